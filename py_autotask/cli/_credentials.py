"""Credential profiles for the CLI: ``~/.config/py-autotask/profiles.json`` (mode 0600).

Precedence for every credential: command-line flag > ``AUTOTASK_*`` environment variable > the
profile (``--profile NAME``, ``AUTOTASK_PROFILE``, or the profile marked default). Secrets are
stored only in this file, written atomically with mode 0600, and never printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import AutotaskConfigError

__all__ = [
    "PluginState",
    "ProfileStore",
    "ResolvedCredentials",
    "config_dir",
    "resolve_credentials",
    "write_private_json",
]

FIELDS = ("username", "secret", "integration_code", "api_url", "impersonation_resource_id")
ENV = {
    "username": "AUTOTASK_USERNAME",
    "secret": "AUTOTASK_SECRET",
    "integration_code": "AUTOTASK_INTEGRATION_CODE",
    "api_url": "AUTOTASK_API_URL",
}


def config_dir() -> Path:
    """``$PY_AUTOTASK_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/py-autotask``, else
    ``~/.config/py-autotask``."""
    explicit = os.environ.get("PY_AUTOTASK_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "py-autotask"


def write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed over it), mode 0600, in
    a folder made private: the one way the CLI's config files are written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, stat.S_IRWXU)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(path, 0o600)


class PluginState:
    """``plugins.json`` beside ``profiles.json``: ``{"disabled": [NAME, ...]}``, the installed
    plugins ``py-autotask plugins disable`` turned off (every other one is enabled)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or (config_dir() / "plugins.json")

    def disabled(self) -> set[str]:
        if not self.path.exists():
            return set()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AutotaskConfigError(f"cannot read the plugin file {self.path}: {exc}") from exc
        names = data.get("disabled") if isinstance(data, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise AutotaskConfigError(
                f"{self.path} is not a py-autotask plugin file (expected "
                '{"disabled": [names]}); fix or delete it'
            )
        return set(names)

    def set_enabled(self, name: str, enabled: bool) -> None:
        names = self.disabled()
        if enabled:
            names.discard(name)
        else:
            names.add(name)
        write_private_json(self.path, {"disabled": sorted(names)})


class ProfileStore:
    """Read and write ``profiles.json``: ``{"default": NAME|null, "profiles": {NAME: {...}}}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or (config_dir() / "profiles.json")

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"default": None, "profiles": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AutotaskConfigError(f"cannot read the profile file {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            raise AutotaskConfigError(f"{self.path} is not a py-autotask profile file")
        data.setdefault("default", None)
        return data

    def save(self, data: dict[str, Any]) -> None:
        write_private_json(self.path, data)

    def get(self, name: str) -> dict[str, Any]:
        data = self.load()
        profile = data["profiles"].get(name)
        if profile is None:
            known = ", ".join(sorted(data["profiles"])) or "none"
            raise AutotaskConfigError(
                f"no profile named {name!r} in {self.path} (known: {known}); "
                f"add one with: py-autotask profile add {name} --username ..."
            )
        return dict(profile)

    def add(self, name: str, values: dict[str, Any], *, make_default: bool = False) -> None:
        if not name.strip():
            raise AutotaskConfigError("a profile needs a name")
        data = self.load()
        clean = {k: v for k, v in values.items() if k in FIELDS and v not in (None, "")}
        data["profiles"][name] = clean
        if make_default or not data.get("default"):
            data["default"] = name
        self.save(data)

    def remove(self, name: str) -> None:
        data = self.load()
        if name not in data["profiles"]:
            raise AutotaskConfigError(f"no profile named {name!r}")
        del data["profiles"][name]
        if data.get("default") == name:
            data["default"] = next(iter(sorted(data["profiles"])), None)
        self.save(data)

    def set_default(self, name: str) -> None:
        data = self.load()
        if name not in data["profiles"]:
            raise AutotaskConfigError(f"no profile named {name!r}")
        data["default"] = name
        self.save(data)

    def public_view(self) -> list[dict[str, Any]]:
        """Profiles without secrets (``secret`` shows only whether one is stored)."""
        data = self.load()
        out = []
        for name, prof in sorted(data["profiles"].items()):
            out.append(
                {
                    "name": name,
                    "default": name == data.get("default"),
                    "username": prof.get("username"),
                    "integration_code": "set" if prof.get("integration_code") else None,
                    "secret": "set" if prof.get("secret") else None,
                    "api_url": prof.get("api_url"),
                }
            )
        return out


@dataclass
class ResolvedCredentials:
    username: str | None
    secret: str | None
    integration_code: str | None
    api_url: str | None
    profile: str | None

    def kwargs(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "secret": self.secret,
            "integration_code": self.integration_code,
            "api_url": self.api_url,
        }


def resolve_credentials(
    *,
    profile: str | None = None,
    username: str | None = None,
    secret: str | None = None,
    integration_code: str | None = None,
    api_url: str | None = None,
    store: ProfileStore | None = None,
) -> ResolvedCredentials:
    """Flag > environment > profile, per credential. An explicitly named profile that does not
    exist is an error; the default profile is used only when one is stored."""
    store = store or ProfileStore()
    name = profile or os.environ.get("AUTOTASK_PROFILE") or None
    prof: dict[str, Any] = {}
    if name:
        prof = store.get(name)
    else:
        data = store.load() if store.path.exists() else {"default": None, "profiles": {}}
        default = data.get("default")
        if default and default in data["profiles"]:
            name = default
            prof = dict(data["profiles"][default])
    flags = {
        "username": username,
        "secret": secret,
        "integration_code": integration_code,
        "api_url": api_url,
    }
    values: dict[str, str | None] = {}
    for key, flag in flags.items():
        env = os.environ.get(ENV[key], "").strip() or None
        values[key] = (
            (flag.strip() if isinstance(flag, str) and flag.strip() else None)
            or env
            or (str(prof[key]) if prof.get(key) else None)
        )
    return ResolvedCredentials(
        username=values["username"],
        secret=values["secret"],
        integration_code=values["integration_code"],
        api_url=values["api_url"],
        profile=name,
    )
