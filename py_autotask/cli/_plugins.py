"""``plugins list|enable|disable|info``: the installed plugins (entry-point group
``py_autotask.plugins``) and whether the CLI's long jobs (export, sync, bulk) call them. The
state lives in ``plugins.json`` beside ``profiles.json`` (mode 0600); plugins are enabled
unless disabled there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exitcodes import ExitCode
from ._shared import (
    OutputFormat,
    OutputOpt,
    attach_plugins,
    err_console,
    errors,
    escape,
    fail,
    write_records,
)

if TYPE_CHECKING:
    from ..plugins import PluginInfo

__all__ = ["plugins_app"]

plugins_app = typer.Typer(
    help="Installed plugins (entry points py_autotask.plugins): list, enable, disable, info."
)

NameArg = Annotated[str, typer.Argument(help="Plugin name (as `py-autotask plugins list` shows).")]


def _installed() -> list[PluginInfo]:
    manager = attach_plugins(None)
    try:
        return manager.list_plugins()
    finally:
        manager.close()


def _find(name: str) -> PluginInfo:
    plugins = _installed()
    for info in plugins:
        if info.name == name:
            return info
    known = ", ".join(i.name for i in plugins) or "none"
    fail(
        f"no installed plugin named {name!r} (installed: {known})",
        ExitCode.USAGE,
        "install a package declaring an entry point in the group py_autotask.plugins, "
        "then see `py-autotask plugins list`",
    )


def _row(info: PluginInfo) -> dict[str, Any]:
    row = info.to_dict()
    row["hooks"] = ", ".join(info.hooks)
    return row


@plugins_app.command("list")
def plugins_list(output: OutputOpt = OutputFormat.table) -> None:
    """The installed plugins: name, version, enabled, source, hooks."""
    with errors():
        rows = [_row(i) for i in _installed()]
        fields = ["name", "version", "enabled", "source", "hooks", "error"]
        if output is OutputFormat.table and not rows:
            err_console().print("no plugins installed (entry-point group py_autotask.plugins)")
            return
        write_records(rows, output, fields=fields)


def _set(name: str, enabled: bool) -> None:
    from ._credentials import PluginState

    with errors():
        info = _find(name)
        if enabled and info.error is not None:
            fail(f"plugin {name!r} cannot be loaded: {info.error}", ExitCode.USAGE)
        state = PluginState()
        state.set_enabled(name, enabled)
        word = "enabled" if enabled else "disabled"
        err_console().print(f"plugin {escape(name)} {word} ({escape(str(state.path))})")


@plugins_app.command("enable")
def plugins_enable(name: NameArg) -> None:
    """Call the plugin NAME in export, sync and bulk runs (the default for installed ones)."""
    _set(name, True)


@plugins_app.command("disable")
def plugins_disable(name: NameArg) -> None:
    """Stop calling the plugin NAME in export, sync and bulk runs."""
    _set(name, False)


@plugins_app.command("info")
def plugins_info(name: NameArg, output: OutputOpt = OutputFormat.table) -> None:
    """One plugin: version, state, source, hooks, and why it cannot load if it cannot."""
    with errors():
        info = _find(name)
        if output is OutputFormat.table:
            for key, value in _row(info).items():
                if value is not None and value != "":
                    typer.echo(f"{key}: {value}")
            return
        write_records([info.to_dict()], output)
