"""What every command shares: options, output, errors -> exit codes, and the client factory.

- **Options**: the credential options (``--profile``, ``--username``, ``--secret``,
  ``--integration-code``, ``--api-url``; flag > ``AUTOTASK_*`` environment > profile) with
  ``--strict``, ``--on-budget fail|wait`` and ``--limiter URL``, ``-o
  table|json|jsonl|csv``, ``--filter``, ``--fields`` and ``--quiet``.
- **Output**: data on stdout (:func:`write_records`), progress bars, logs and errors on stderr
  (:func:`err_console`).
- **Errors**: :func:`errors` turns an exception into one red line on stderr and the documented
  :class:`~py_autotask._exitcodes.ExitCode` (:func:`exit_code_for`); secrets are scrubbed.
- **Client**: :func:`make_client` resolves the credentials and builds the ``AutotaskClient``.

Command modules import this module and nothing heavy at import time (``py-autotask --help`` loads
no HTTP client, no pydantic models, no pyarrow): the client, rich and every feature are imported
inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

from .._csv import csv_line
from .._exitcodes import ExitCode
from ..exceptions import (
    AutotaskAuthError,
    AutotaskConfigError,
    AutotaskError,
    AutotaskOperationNotSupportedError,
    AutotaskPermissionError,
    AutotaskRateLimitError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from .. import AutotaskClient
    from .._spec import EntitySpec
    from ..plugins import PluginManager
    from ._filterlang import ParsedFilter

__all__ = [
    "LOG_FORMAT",
    "WAITS",
    "CodeOpt",
    "Credentials",
    "FieldsOpt",
    "FilterOpt",
    "LimiterOpt",
    "OnBudgetOpt",
    "OutputFormat",
    "OutputOpt",
    "ProfileOpt",
    "QuietOpt",
    "SecretOpt",
    "UrlOpt",
    "UsernameOpt",
    "WaitLine",
    "attach_plugins",
    "cell",
    "check_against_metadata",
    "entity_spec",
    "err_console",
    "errors",
    "escape",
    "exit_code_for",
    "fail",
    "field_list",
    "make_client",
    "secrets",
    "stderr_line",
    "waits_shown_in",
    "with_credentials",
    "write_records",
]


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


# --- options ----------------------------------------------------------------------------------------

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="Credential profile (see `py-autotask profile`).")
]
UsernameOpt = Annotated[str | None, typer.Option("--username", help="API user name.")]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--secret", help="API secret (prefer AUTOTASK_SECRET or a profile).", show_default=False
    ),
]
CodeOpt = Annotated[str | None, typer.Option("--integration-code", help="API tracking identifier.")]
UrlOpt = Annotated[
    str | None, typer.Option("--api-url", help="REST base URL (skips zone discovery).")
]
OutputOpt = Annotated[
    OutputFormat, typer.Option("--output-format", "-o", help="table | json | jsonl | csv")
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help='Filter expression, e.g. "status = 5 and (priority <= 2 or title contains VIP)".',
    ),
]
FieldsOpt = Annotated[
    str | None, typer.Option("--fields", help="Comma-separated fields (udf.Name for UDFs).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
OnBudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--on-budget",
        help="When the tenant's hourly request budget is used up: fail (exit 4; default) or "
        "wait for the window to drain (announced on stderr).",
        show_default=False,
    ),
]
LimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--limiter",
        help="Where request limits are shared: auto (default: AUTOTASK_LIMITER_URL, else one "
        "file per machine, so processes side by side share them), local (this process only), "
        "sqlite:///PATH or redis://HOST:PORT/DB (many machines).",
        show_default=False,
    ),
]
StrictOpt = Annotated[
    bool | None,
    typer.Option(
        "--strict",
        help="Refuse a record value off its declared type (exit 1, naming entity, id, field, "
        "type and value) instead of reading it and reporting it.",
    ),
]
MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        metavar="PORT",
        help="Serve Prometheus metrics on http://127.0.0.1:PORT/metrics while the job runs "
        "(0: any free port, printed on stderr). Needs py-autotask[monitoring].",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Credentials:
    """The credential options of one command (``--profile``, ``--username``, ``--secret``,
    ``--integration-code``, ``--api-url``), given to it by :func:`with_credentials`."""

    profile: str | None = None
    username: str | None = None
    secret: str | None = None
    integration_code: str | None = None
    api_url: str | None = None
    strict: bool | None = None
    on_budget: str | None = None
    limiter: str | None = None

    def client(self, *, plugins: bool = False) -> AutotaskClient:
        """The client these resolve to (flag > environment > profile); missing ones exit 3.
        ``plugins``: the installed plugins enabled in the config receive this run's events
        (the long jobs: export, sync, bulk)."""
        client = make_client(
            self.profile,
            self.username,
            self.secret,
            self.integration_code,
            self.api_url,
            strict=bool(self.strict),
            on_budget=self.on_budget,
            limiter=self.limiter,
        )
        if plugins:
            attach_plugins(client)
        return client


def attach_plugins(client: AutotaskClient | None) -> PluginManager:
    """A plugin manager for ``client`` with the installed plugins (entry points), those
    ``py-autotask plugins disable`` turned off left disabled. It is subscribed to the event bus
    until the client closes (or :meth:`~py_autotask.plugins.PluginManager.close`)."""
    from ..plugins import PluginManager
    from ._credentials import PluginState

    manager = PluginManager(client)
    manager.load_entrypoints(disabled=PluginState().disabled())
    return manager


#: the credential options, last in every command that talks to Autotask (in this order)
_CREDENTIAL_OPTIONS = (
    ("profile", ProfileOpt),
    ("username", UsernameOpt),
    ("secret", SecretOpt),
    ("integration_code", CodeOpt),
    ("api_url", UrlOpt),
    ("strict", StrictOpt),
    ("on_budget", OnBudgetOpt),
    ("limiter", LimiterOpt),
)


def option_group(
    keyword: str, factory: Callable[..., Any], options: Sequence[tuple[str, Any, Any]]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator giving a command a group of options declared once: typer sees ``options``
    (``(name, annotated type, default)``) as the command's last options; the command receives
    them as one keyword argument ``keyword`` holding ``factory(**values)``."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != keyword]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=a)
            for name, a, default in options
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            given = {name: kwargs.pop(name, default) for name, _a, default in options}
            command(*args, **{keyword: factory(**given)}, **kwargs)

        parameters = [*own, *added]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


#: Gives a command the credential options, ``--strict``, ``--on-budget`` and ``--limiter`` (as
#: ``credentials: Credentials``), declared once here instead of eight parameters in every command.
with_credentials = option_group(
    "credentials", Credentials, [(name, option, None) for name, option in _CREDENTIAL_OPTIONS]
)


def field_list(fields: str | None) -> list[str] | None:
    """``--fields a, b,udf.X`` -> ``["a", "b", "udf.X"]`` (``None`` when not given). Given but
    naming no field (``--fields ''``, only commas or spaces) is a usage error, not "every field"."""
    if fields is None:
        return None
    out = [f.strip() for f in fields.split(",") if f.strip()]
    if not out:
        raise AutotaskConfigError(
            f"--fields {fields!r} names no field: list field names separated by commas, e.g. "
            "--fields id,title (leave --fields out for every field)"
        )
    return out


# --- errors and exit codes ----------------------------------------------------------------------------

#: secrets resolved by this process, scrubbed from unexpected error messages
_SECRETS: list[str] = []


def err_console() -> Console:
    """A rich console on stderr (progress, logs, errors); under ``--log-format json`` each line
    it prints becomes one JSON log line (:class:`_JsonLines`)."""
    from rich.console import Console

    if LOG_FORMAT[0] == "json":
        lines = cast("IO[str]", _JsonLines())
        return Console(file=lines, highlight=False, soft_wrap=True, color_system=None)
    return Console(stderr=True, highlight=False, soft_wrap=True)


class _JsonLines(io.TextIOBase):
    """A text stream writing each complete non-blank line to stderr as a JSON log line (level
    ``error`` / ``warning`` for lines starting so, else ``info``), secrets scrubbed."""

    def __init__(self) -> None:
        self._pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            message = line.rstrip()
            if message.strip():
                level = next(
                    (lv for lv in ("error", "warning") if message.startswith(f"{lv}:")), "info"
                )
                stderr_line(level, message.strip())
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self.write("\n")


def escape(text: str) -> str:
    """``text`` with rich markup escaped (for messages that hold user input)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


#: the ``--log-format`` of this process (``text`` or ``json``), set by the root command
LOG_FORMAT: list[str] = ["text"]


#: the API user names this process resolved: scrubbed from log lines (a zone lookup's URL names
#: the user), not from error messages, which may need to name it
_USERNAMES: list[str] = []


def secrets() -> list[str]:
    """What log lines never show: the secrets and user names this process resolved."""
    return [*_SECRETS, *_USERNAMES]


def stderr_line(level: str, message: str, **fields: Any) -> bool:
    """Under ``--log-format json``, write ``message`` as one JSON log line on stderr and return
    True; otherwise do nothing and return False (the caller prints its text form)."""
    if LOG_FORMAT[0] != "json":
        return False
    from ..monitoring._logs import json_line

    sys.stderr.write(json_line(level, "py_autotask.cli", message, secrets(), **fields) + "\n")
    sys.stderr.flush()
    return True


def fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    """Print ``error: message`` (and ``hint: ...``) on stderr and exit with ``code`` (one JSON
    line under ``--log-format json``)."""
    if stderr_line("error", message, hint=hint, exit_code=int(code)):
        raise typer.Exit(code)
    console = err_console()
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
    if hint:
        console.print(f"[yellow]hint:[/yellow] {escape(hint)}")
    raise typer.Exit(code)


def _loaded(module: str, name: str) -> type[BaseException] | None:
    """An exception class of a feature module, only when that module is loaded: an instance of it
    cannot exist otherwise, and importing the feature (SQLAlchemy, pyarrow) just to rule it out
    would cost every command its start-up time."""
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def exit_code_for(exc: BaseException) -> ExitCode:
    """The documented exit code for an exception."""
    locked = _loaded("py_autotask.sync", "SyncLockedError")
    if locked is not None and isinstance(exc, locked):
        return ExitCode.LOCKED
    if isinstance(exc, (AutotaskConfigError, AutotaskOperationNotSupportedError)):
        return ExitCode.USAGE  # includes FilterSyntaxError and unknown entities
    if isinstance(exc, (AutotaskAuthError, AutotaskPermissionError)):
        return ExitCode.AUTH
    if isinstance(exc, AutotaskRateLimitError):
        return ExitCode.RATE
    for module, name in (
        ("py_autotask.sync", "MassDeletionError"),
        ("py_autotask.export", "ExportIncompleteError"),
    ):
        partial = _loaded(module, name)
        if partial is not None and isinstance(exc, partial):
            return ExitCode.PARTIAL
    return ExitCode.ERROR


_LIBRARY_WAIT = "PacingConfig(on_budget_exhausted='wait')"


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Turn py-autotask errors into a red message on stderr and the documented exit code (a bad
    filter expression shows the expression with a caret under the mistake: its message)."""
    try:
        yield
    except typer.Exit:
        raise
    except AutotaskError as exc:
        # the messages name the Python option; say the CLI's
        text = str(exc).replace(_LIBRARY_WAIT, "--on-budget wait")
        hint = getattr(exc, "hint", None)
        hint = hint.replace(_LIBRARY_WAIT, "--on-budget wait") if hint else None
        fail(text, exit_code_for(exc), hint if hint and hint not in text else None)
    except FileExistsError as exc:
        # the message names the Python options; say the CLI's
        text = str(exc).replace("resume=True", "--resume").replace("overwrite=True", "--overwrite")
        fail(text, ExitCode.USAGE)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.ERROR)
    except Exception as exc:
        # database drivers, files, missing extras: one line, no traceback, secrets scrubbed
        from ..exceptions import scrub_secrets

        fail(scrub_secrets(f"{type(exc).__name__}: {exc}", _SECRETS), ExitCode.ERROR)


@contextlib.contextmanager
def serving_metrics(client: Any, port: int | None) -> Iterator[None]:
    """With ``--metrics-port``: a :class:`~py_autotask.monitoring.MetricsCollector` on ``client``
    serving ``/metrics`` on 127.0.0.1 while the block runs (its URL on stderr). Call it before
    the command sends anything: a port in use exits 2 with nothing sent."""
    if port is None:
        yield
        return
    import errno

    from ..monitoring import MetricsCollector

    metrics = MetricsCollector(client).start_collection()
    try:
        server = metrics.serve(port)
    except OSError as exc:
        metrics.stop_collection()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"--metrics-port: port {port} is in use",
                ExitCode.USAGE,
                "pick a free port, or 0 for any free one",
            )
        fail(f"--metrics-port: cannot listen on port {port}: {exc.strerror or exc}", ExitCode.USAGE)
    err_console().print(f"metrics: {server.url}", highlight=False)
    try:
        yield
    finally:
        server.close()
        metrics.stop_collection()


# --- entities and the client -------------------------------------------------------------------------


def entity_spec(name: str, operation: str | None = None) -> EntitySpec:
    """The spec of ``name`` (any spelling, through the one resolver); with ``operation``, the
    entity must support it at its root collection. Unknown names and unsupported operations are
    usage errors (raised; :func:`errors` prints them with exit code 2)."""
    from .._registry import require_operation, spec_for

    spec = spec_for(name)
    if operation is not None:
        require_operation(spec, operation, root=True)
    return spec


def make_client(
    profile: str | None,
    username: str | None,
    secret: str | None,
    integration_code: str | None,
    api_url: str | None,
    *,
    strict: bool = False,
    on_budget: str | None = None,
    limiter: str | None = None,
) -> AutotaskClient:
    """An ``AutotaskClient`` from flag > environment > profile; missing credentials exit 3.
    ``strict``: off-type record values raise instead of being read and reported. ``on_budget``
    (``fail`` | ``wait``) and ``limiter`` (a ``PacingConfig.backend`` URL) set the pacing; a bad
    value exits 2 before anything is sent. Every wait over 5 s is printed as one line on stderr
    (:data:`WAITS`)."""
    from .. import AutotaskClient
    from ._credentials import resolve_credentials

    pacing = _pacing(on_budget, limiter)

    creds = resolve_credentials(
        profile=profile,
        username=username,
        secret=secret,
        integration_code=integration_code,
        api_url=api_url,
    )
    missing = [
        label
        for label, value in (
            ("username", creds.username),
            ("secret", creds.secret),
            ("integration code", creds.integration_code),
        )
        if not value
    ]
    if missing:
        fail(
            "no Autotask credentials: missing " + ", ".join(missing),
            ExitCode.AUTH,
            "pass --username/--secret/--integration-code, set AUTOTASK_USERNAME, AUTOTASK_SECRET "
            "and AUTOTASK_INTEGRATION_CODE, or add a profile: py-autotask profile add NAME "
            "--username ... (try `py-autotask demo` for a credential-free run)",
        )
    _SECRETS.extend(v for v in (creds.secret, creds.integration_code) if v)
    _USERNAMES.extend(v for v in (creds.username,) if v)
    options: dict[str, Any] = {"pacing": pacing} if pacing is not None else {}
    client = AutotaskClient(**creds.kwargs(), strict=strict, **options)
    client.add_wait_listener(WAITS)
    return client


_ON_BUDGET = {"fail": "raise", "wait": "wait"}


def _pacing(on_budget: str | None, limiter: str | None) -> Any:
    """The ``PacingConfig`` for ``--on-budget`` / ``--limiter`` (``None`` when neither is given,
    so the library's defaults apply: ``fail``, and the default limiter backend)."""
    changes: dict[str, Any] = {}
    if on_budget is not None:
        mode = _ON_BUDGET.get(on_budget.strip().lower())
        if mode is None:
            fail(f"--on-budget must be fail or wait, not {on_budget!r}", ExitCode.USAGE)
        changes["on_budget_exhausted"] = mode
    if limiter is not None:
        from ..resilience._config import check_backend_url

        try:
            changes["backend"] = check_backend_url(limiter.strip(), source="--limiter")
        except AutotaskConfigError as exc:
            fail(str(exc), ExitCode.USAGE)
    if not changes:
        return None
    from ..resilience import PacingConfig

    try:
        return PacingConfig(**changes)
    except AutotaskConfigError as exc:
        fail(f"--limiter: {exc}", ExitCode.USAGE)


class WaitLine:
    """The CLI's wait listener: each long wait as one line on stderr (also under ``-q`` and
    without a terminal), e.g. ``waiting 4m10s: hourly request budget used up ...; resumes about
    16:42 UTC``; progress bars ``follow`` it to show the wait in their description."""

    def __init__(self) -> None:
        self.followers: list[Callable[[Any], None]] = []

    def __call__(self, event: Any) -> None:
        if not stderr_line("warning", str(event), wait_seconds=event.seconds):
            sys.stderr.write(f"{event}\n")
            sys.stderr.flush()
        for follower in list(self.followers):
            follower(event)

    @contextlib.contextmanager
    def follow(self, follower: Callable[[Any], None]) -> Iterator[None]:
        """Call ``follower(event)`` on every wait while the block runs."""
        self.followers.append(follower)
        try:
            yield
        finally:
            self.followers.remove(follower)


#: The one wait listener of this process's clients.
WAITS = WaitLine()


@contextlib.contextmanager
def waits_shown_in(progress: Any) -> Iterator[None]:
    """While the block runs, a wait announced on stderr also shows in the description of every
    unfinished task of the rich ``progress`` until it is expected to end."""
    import threading

    original: dict[Any, str] = {}
    timers: list[threading.Timer] = []
    lock = threading.Lock()

    def restore() -> None:
        with lock:
            for task_id, text in original.items():
                progress.update(task_id, description=text)
            original.clear()

    def show(event: Any) -> None:
        with lock:
            for task in progress.tasks:
                if not task.finished:
                    base = original.setdefault(task.id, task.description)
                    progress.update(task.id, description=f"{base} - {escape(event.short())}")
        timer = threading.Timer(event.seconds if event.seconds is not None else 10.0, restore)
        timer.daemon = True
        timer.start()
        timers.append(timer)

    with WAITS.follow(show):
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()


# --- output --------------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A value as text for tables (lists/dicts as compact JSON, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def _columns(records: Sequence[Mapping[str, Any]], fields: Sequence[str] | None) -> list[str]:
    if fields:
        return list(fields)
    cols: list[str] = []
    seen: set[str] = set()
    for rec in records:
        for key in rec:
            if key not in seen:
                seen.add(key)
                cols.append(key)
    if "id" in seen:
        cols.remove("id")
        cols.insert(0, "id")
    return cols


def write_records(
    records: Iterable[Mapping[str, Any]],
    fmt: OutputFormat | str,
    *,
    fields: Sequence[str] | None = None,
    title: str | None = None,
    out: IO[str] | None = None,
    max_table_columns: int = 12,
) -> int:
    """Write records (to stdout by default); returns how many were written. ``table`` shows at
    most ``max_table_columns`` columns unless ``fields`` names them; ``jsonl`` streams."""
    stream = out or sys.stdout
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.jsonl:
        n = 0
        for rec in records:
            if fields:
                rec = {f: _get(rec, f) for f in fields}
            stream.write(json.dumps(rec, default=str, ensure_ascii=False) + "\n")
            n += 1
        stream.flush()
        return n
    items = list(records)
    if fields:
        items = [{f: _get(rec, f) for f in fields} for rec in items]
    if fmt is OutputFormat.json:
        stream.write(json.dumps(items, default=str, ensure_ascii=False, indent=2) + "\n")
        stream.flush()
        return len(items)
    cols = _columns(items, fields)
    if fmt is OutputFormat.csv:
        # null stays an empty field, text is quoted ("" is the empty string): py_autotask._csv
        stream.write(csv_line(cols))
        for rec in items:
            stream.write(csv_line(rec.get(c) for c in cols))
        stream.flush()
        return len(items)
    from rich.console import Console
    from rich.table import Table

    shown = cols if fields else cols[:max_table_columns]
    table = Table(title=title, show_lines=False)
    for c in shown:
        table.add_column(c, overflow="fold")
    for rec in items:
        table.add_row(*[cell(rec.get(c)) for c in shown])
    probe = Console(file=stream)
    console = Console(file=stream, width=probe.width if probe.is_terminal else 200)
    console.print(table)
    if len(shown) < len(cols):
        console.print(
            f"[dim]{len(cols) - len(shown)} more columns; choose with --fields or use -o json[/dim]"
        )
    return len(items)


def _get(rec: Mapping[str, Any], name: str) -> Any:
    if name in rec:
        return rec[name]
    low = name.lower()
    for key, value in rec.items():
        if key.lower() == low:
            return value
    if low.startswith("udf."):
        udf = low[4:].strip('"')
        for entry in rec.get("userDefinedFields") or []:
            if isinstance(entry, Mapping) and str(entry.get("name", "")).lower() == udf:
                return entry.get("value")
    return None


# --- checks before anything is sent --------------------------------------------------------------------


def check_against_metadata(
    client: AutotaskClient,
    specs: Sequence[EntitySpec],
    filter: ParsedFilter | None,
    fields: Sequence[str] | None = None,
) -> None:
    """Unknown fields, unfilterable fields and wrongly typed values in ``--filter`` / ``--fields``
    are usage errors pointing at the mistake, before any data request (the API would answer an
    opaque HTTP 500). The filter was parsed once by the caller; the tenant's metadata is read only
    for names the bundled metadata lacks (newer fields) and for UDFs, once per entity (cached by
    the client)."""
    from ._filterlang import check_field_names, check_filter

    meta = client.metadata
    for spec in specs:

        def fields_of(name: str = spec.name) -> list[dict[str, Any]]:
            return meta.fields(name)

        def udfs_of(name: str = spec.name, has_udfs: bool = spec.has_udfs) -> list[dict[str, Any]]:
            return meta.udfs(name) if has_udfs else []

        if filter is not None:
            check_filter(filter, spec, tenant_fields=fields_of, tenant_udfs=udfs_of)
        if fields:
            check_field_names(fields, spec, tenant_fields=fields_of, tenant_udfs=udfs_of)
