"""``profile add|list|remove|default``: credential profiles (mode 0600, secrets never shown)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ._shared import OutputFormat, OutputOpt, err_console, errors, escape, write_records

if TYPE_CHECKING:
    from ._credentials import ProfileStore

__all__ = ["profile_app"]

profile_app = typer.Typer(help="Credential profiles (stored with mode 0600, secrets never shown).")


def _store() -> ProfileStore:
    from ._credentials import ProfileStore

    return ProfileStore()


@profile_app.command("add")
def profile_add(
    name: Annotated[str, typer.Argument(help="Profile name.")],
    username: Annotated[str, typer.Option("--username", help="API user name.")],
    integration_code: Annotated[
        str | None, typer.Option("--integration-code", help="API tracking identifier.")
    ] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="REST base URL.")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="API secret; prompted (hidden) when omitted."),
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the secret from standard input.")
    ] = False,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default profile.")
    ] = False,
) -> None:
    """Store credentials under NAME (file mode 0600; the secret is never printed)."""
    with errors():
        if secret_stdin:
            secret = sys.stdin.readline().strip()
        elif secret is None:
            secret = typer.prompt("Secret", hide_input=True)
        if not integration_code:
            integration_code = typer.prompt("Integration code (API tracking identifier)")
        store = _store()
        store.add(
            name,
            {
                "username": username,
                "secret": secret,
                "integration_code": integration_code,
                "api_url": api_url,
            },
            make_default=default,
        )
        err_console().print(f"saved profile [bold]{escape(name)}[/bold] in {store.path}")


@profile_app.command("list")
def profile_list(output: OutputOpt = OutputFormat.table) -> None:
    """List profiles (secrets are shown only as 'set')."""
    with errors():
        write_records(_store().public_view(), output, title="profiles")


@profile_app.command("remove")
def profile_remove(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Delete a profile."""
    with errors():
        _store().remove(name)
        err_console().print(f"removed profile {escape(name)}")


@profile_app.command("default")
def profile_default(name: Annotated[str, typer.Argument(help="Profile name.")]) -> None:
    """Make NAME the profile used when --profile is not given."""
    with errors():
        _store().set_default(name)
        err_console().print(f"default profile: {escape(name)}")
