"""``codegen pull``: refresh ``schemas/`` from a live Autotask API (or any compatible base URL).

For each entity of the existing snapshot (or those named with ``--entities``) it fetches::

    GET {base}{Entity}/entityInformation
    GET {base}{Entity}/entityInformation/fields
    GET {base}{Entity}/entityInformation/userDefinedFields

and rewrites ``entityInformation.json``, ``fields.json`` and ``userDefinedFields.json`` with the same
normalisation ``codegen bootstrap`` applies (fields sorted by name, picklist values by
(``sortOrder``, ``value``), tenant-specific picklist labels neutralised unless
``--keep-tenant-labels``). In ``derived.json`` only the facts that depend on fields are updated
(provenance, ``changeTrackingField``, ``hasUserDefinedFields``); routes come from the Swagger and
are kept, because the metadata endpoints do not list them. An entity whose ``entityInformation``
answers 404/405 is not served by that API: it is removed from the snapshot and reported.

Nothing is written unless every entity was fetched (or found missing); then the drift report
between the snapshot before and after is printed.

Credentials: ``AUTOTASK_USERNAME``, ``AUTOTASK_SECRET``, ``AUTOTASK_INTEGRATION_CODE``. Base URL:
``--base-url`` or ``AUTOTASK_API_URL``; without one the zone is discovered from the user name
(``AUTOTASK_ZONE_DISCOVERY_URL`` overrides the discovery endpoint). Credentials are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from codegen._jsonio import read_json, write_json
from codegen._normalize import neutral_picklist
from codegen.bootstrap import CHANGE_TRACKING_CANDIDATES, FIELD_KEYS
from codegen.drift import diff_trees

#: Zone discovery; needs no credentials (autotask-api.md §3).
ZONE_DISCOVERY_URL = "https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation"
#: Retries for 429 / thread-limit (``Itgenatr005``) answers and transport errors.
MAX_RETRIES = 6
#: First back-off delay in seconds; doubles per retry (capped), ``Retry-After`` wins when sent.
RETRY_BASE_DELAY = 1.0
RETRY_MAX_DELAY = 30.0
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
THREAD_LIMIT_CODE = "Itgenatr005"
PROVENANCE = "pulled"

_INFO = "entityInformation"
_FIELDS = "entityInformation/fields"
_UDFS = "entityInformation/userDefinedFields"


class PullError(Exception):
    """A pull failed; the message names the entity and never contains credentials."""


@dataclass(frozen=True)
class Credentials:
    username: str | None
    secret: str | None
    integration_code: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Credentials:
        source = os.environ if env is None else env
        return cls(
            username=source.get("AUTOTASK_USERNAME") or None,
            secret=source.get("AUTOTASK_SECRET") or None,
            integration_code=source.get("AUTOTASK_INTEGRATION_CODE") or None,
        )

    @property
    def complete(self) -> bool:
        return bool(self.username and self.secret and self.integration_code)

    def headers(self) -> dict[str, str]:
        out = {"Accept": "application/json", "User-Agent": "py-autotask-codegen-pull"}
        if self.username:
            out["UserName"] = self.username
        if self.secret:
            out["Secret"] = self.secret
        if self.integration_code:
            out["ApiIntegrationCode"] = self.integration_code
        return out

    def redact(self, text: str) -> str:
        """Remove every credential value (and the URL-encoded user name) from ``text``."""
        for value in (self.secret, self.integration_code, self.username):
            if value:
                text = text.replace(value, "***").replace(quote(value, safe=""), "***")
        return text


@dataclass
class EntityResult:
    name: str
    info: dict[str, Any] | None = None  # None: the API does not serve this entity
    fields: list[dict[str, Any]] = field(default_factory=list)
    udfs: list[dict[str, Any]] = field(default_factory=list)
    missing_status: int | None = None


# --------------------------------------------------------------------------- HTTP


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:200] if text else "(empty body)"
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return "; ".join(str(e) for e in body["errors"])[:300]
    return str(body)[:200]


def _is_thread_limit(response: httpx.Response) -> bool:
    return response.status_code == 429 or THREAD_LIMIT_CODE in response.text


def _retry_delay(attempt: int, response: httpx.Response | None) -> float:
    if response is not None:
        header = response.headers.get("Retry-After")
        if header:
            try:
                return min(float(header), RETRY_MAX_DELAY)
            except ValueError:
                pass
    delay = min(RETRY_BASE_DELAY * (2**attempt), RETRY_MAX_DELAY)
    return float(delay * (0.75 + random.random() / 2))


class Fetcher:
    """GETs with at most ``concurrency`` requests in flight and back-off on thread limits."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, creds: Credentials, concurrency: int
    ):
        self.client = client
        self.base_url = base_url
        self.creds = creds
        self.gate = asyncio.Semaphore(max(1, concurrency))
        self.retries = 0

    async def get(self, entity: str, sub_path: str) -> tuple[int, Any]:
        """Return (status, JSON body); 404/405 are returned, other failures raise PullError."""
        url = f"{self.base_url}{entity}/{sub_path}"
        what = f"{entity}: GET {entity}/{sub_path}"
        for attempt in range(MAX_RETRIES + 1):
            response: httpx.Response | None = None
            try:
                async with self.gate:
                    response = await self.client.get(url)
            except httpx.TransportError as exc:
                if attempt == MAX_RETRIES:
                    raise PullError(
                        self.creds.redact(f"{what} failed: {type(exc).__name__}: {exc}")
                    ) from None
            else:
                if response.status_code in (404, 405):
                    return response.status_code, None
                if response.status_code == 200:
                    try:
                        return 200, response.json()
                    except ValueError:
                        raise PullError(f"{what} returned a body that is not JSON") from None
                if not _is_thread_limit(response) or attempt == MAX_RETRIES:
                    raise PullError(self.creds.redact(self._describe(what, response, attempt)))
            self.retries += 1
            await asyncio.sleep(_retry_delay(attempt, response))
        raise PullError(f"{what} failed")  # pragma: no cover - loop always returns or raises

    @staticmethod
    def _describe(what: str, response: httpx.Response, attempt: int) -> str:
        status = response.status_code
        detail = _error_detail(response)
        hint = ""
        if status == 401:
            hint = " (authentication failed: check AUTOTASK_USERNAME / AUTOTASK_SECRET)"
        elif status == 403:
            hint = " (the API user's security level does not allow this)"
        elif status == 500 and "integration" in detail.lower():
            hint = " (check AUTOTASK_INTEGRATION_CODE)"
        elif _is_thread_limit(response):
            hint = f" (still rate/thread limited after {attempt} retries)"
        return f"{what} failed with HTTP {status}{hint}: {detail}"


def _expect(body: Any, key: str, kind: type, what: str) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get(key), kind):
        raise PullError(f"{what}: expected a JSON object with {key!r}, got {str(body)[:120]!r}")
    return body[key]


async def fetch_entity(fetcher: Fetcher, entity: str) -> EntityResult:
    status, body = await fetcher.get(entity, _INFO)
    if status in (404, 405):
        return EntityResult(name=entity, missing_status=status)
    info = _expect(body, "info", dict, f"{entity}: GET {entity}/{_INFO}")
    (s_fields, b_fields), (s_udfs, b_udfs) = await asyncio.gather(
        fetcher.get(entity, _FIELDS), fetcher.get(entity, _UDFS)
    )
    for sub, status in ((_FIELDS, s_fields), (_UDFS, s_udfs)):
        if status != 200:
            raise PullError(
                f"{entity}: GET {entity}/{sub} answered HTTP {status} "
                "although entityInformation exists"
            )
    fields = _expect(b_fields, "fields", list, f"{entity}: GET {entity}/{_FIELDS}")
    udfs = _expect(b_udfs, "fields", list, f"{entity}: GET {entity}/{_UDFS}")
    return EntityResult(name=entity, info=info, fields=fields, udfs=udfs)


async def fetch_all(
    base_url: str, creds: Credentials, entities: Sequence[str], concurrency: int
) -> tuple[list[EntityResult], int]:
    async with httpx.AsyncClient(headers=creds.headers(), timeout=TIMEOUT) as client:
        fetcher = Fetcher(client, base_url, creds, concurrency)
        tasks = [asyncio.ensure_future(fetch_entity(fetcher, name)) for name in entities]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return list(results), fetcher.retries


def discover_zone(username: str, creds: Credentials, discovery_url: str | None = None) -> str:
    """Return the zone's REST root (``.../ATServicesRest/V1.0/``) for an API user name."""
    url = f"{discovery_url or ZONE_DISCOVERY_URL}?user={quote(username, safe='')}"
    try:
        response = httpx.get(url, headers={"Accept": "application/json"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise PullError(f"zone discovery failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise PullError(
            creds.redact(
                f"zone discovery failed with HTTP {response.status_code}: {_error_detail(response)}; "
                "pass --base-url or set AUTOTASK_API_URL"
            )
        )
    try:
        zone_url = response.json().get("url")
    except (ValueError, AttributeError):
        zone_url = None
    if not isinstance(zone_url, str) or not zone_url:
        raise PullError("zone discovery answered without a 'url'; pass --base-url")
    return zone_url.rstrip("/") + "/V1.0/"


def normalise_base_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


# --------------------------------------------------------------------------- normalisation


def normalise_fields(raw: list[dict[str, Any]], *, keep_labels: bool) -> list[dict[str, Any]]:
    """``entityInformation/fields`` -> ``fields.json`` entries (as bootstrap writes them)."""
    out = []
    for item in raw:
        entry: dict[str, Any] = {key: item.get(key) for key in FIELD_KEYS}
        entry.update(item)  # keep any key a newer API adds
        entry["picklistValues"] = neutral_picklist(
            item.get("picklistValues"), str(item["name"]), keep_labels=keep_labels
        )
        out.append(entry)
    out.sort(key=lambda f: str(f["name"]).lower())
    return out


def normalise_udfs(raw: list[dict[str, Any]], *, keep_labels: bool) -> list[dict[str, Any]]:
    """``entityInformation/userDefinedFields`` -> ``userDefinedFields.json`` entries."""
    out = []
    for item in raw:
        entry = dict(item)
        entry["picklistValues"] = neutral_picklist(
            item.get("picklistValues"), str(item["name"]), keep_labels=keep_labels
        )
        out.append(entry)
    out.sort(key=lambda f: str(f["name"]).lower())
    return out


def update_derived(
    derived: dict[str, Any],
    result: EntityResult,
    fields: list[dict[str, Any]],
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Refresh the field-dependent facts of ``derived.json``; routes and Swagger facts stay.

    Provenance changes only where the API said something new: a field, entity description or UDF
    list equal to what the snapshot already held keeps its recorded source, so pulling from a
    server that serves the snapshot (the simulator) reproduces ``schemas/`` byte for byte.
    ``previous`` holds the snapshot's files before the pull (``entityInformation.json``,
    ``fields.json``, ``userDefinedFields.json`` bodies).
    """
    previous = previous or {}
    out = dict(derived)
    names = {str(f["name"]) for f in fields}
    out["changeTrackingField"] = next((c for c in CHANGE_TRACKING_CANDIDATES if c in names), None)
    out["hasUserDefinedFields"] = bool((result.info or {}).get("hasUserDefinedFields"))
    provenance = dict(out.get("provenance") or {})
    old_per_field = dict(provenance.get("perField") or {})
    old_fields = {
        str(f.get("name")): f for f in (previous.get("fields.json") or {}).get("fields", [])
    }
    per_field = {}
    for fld in fields:
        name = str(fld["name"])
        same = old_fields.get(name) == fld and name in old_per_field
        per_field[name] = old_per_field[name] if same else PROVENANCE
    counts: dict[str, int] = {}
    for source in per_field.values():
        counts[source] = counts.get(source, 0) + 1
    if (previous.get("entityInformation.json") or {}).get("info") != result.info:
        provenance["entityInformation"] = PROVENANCE
    provenance["fields"] = dict(sorted(counts.items()))
    provenance["perField"] = dict(sorted(per_field.items()))
    old_udfs = (previous.get("userDefinedFields.json") or {}).get("fields")
    new_names = sorted((str(u.get("name")) for u in result.udfs), key=str.lower)
    if old_udfs is None or [str(u.get("name")) for u in old_udfs] != new_names:
        provenance["userDefinedFields"] = PROVENANCE
    out["provenance"] = provenance
    return out


# --------------------------------------------------------------------------- writing


def write_results(
    out_dir: Path, results: Sequence[EntityResult], *, keep_labels: bool
) -> tuple[list[Path], list[EntityResult]]:
    """Write pulled entities, remove the ones the API does not serve. Returns (changed, removed)."""
    ent_dir = out_dir / "entities"
    changed: list[Path] = []
    removed = [r for r in results if r.info is None]
    for result in results:
        if result.info is None:
            continue
        folder = ent_dir / result.name
        fields = normalise_fields(result.fields, keep_labels=keep_labels)
        udfs = normalise_udfs(result.udfs, keep_labels=keep_labels)
        derived = read_json(folder / "derived.json")
        previous = {
            name: read_json(folder / name)
            for name in ("entityInformation.json", "fields.json", "userDefinedFields.json")
            if (folder / name).exists()
        }
        files: dict[str, Any] = {
            "entityInformation.json": {"info": result.info},
            "fields.json": {"fields": fields},
            "userDefinedFields.json": {"fields": udfs},
            "derived.json": update_derived(derived, result, fields, previous),
        }
        for name, data in files.items():
            if write_json(folder / name, data):
                changed.append(folder / name)
    gone = {r.name for r in removed}
    if gone:
        for name in sorted(gone):
            shutil.rmtree(ent_dir / name)
            changed.append(ent_dir / name)
        # Routes of other entities that point at a removed one are gone too.
        for folder in sorted(p for p in ent_dir.iterdir() if p.is_dir()):
            path = folder / "derived.json"
            derived = read_json(path)
            kept = [r for r in derived.get("childRoutes") or [] if r.get("entity") not in gone]
            if len(kept) != len(derived.get("childRoutes") or []):
                derived["childRoutes"] = kept
                if write_json(path, derived):
                    changed.append(path)
        index_path = out_dir / "index.json"
        index = read_json(index_path)
        index["entities"] = [e for e in index.get("entities", []) if e not in gone]
        if write_json(index_path, index):
            changed.append(index_path)
    return changed, removed


def snapshot_entities(out_dir: Path) -> list[str]:
    ent_dir = out_dir / "entities"
    if not ent_dir.is_dir():
        raise PullError(
            f"{out_dir} has no entities/: run `python -m codegen bootstrap` first "
            "(routes come from the Swagger-derived snapshot)"
        )
    return sorted(p.name for p in ent_dir.iterdir() if p.is_dir() and (p / "derived.json").exists())


def select_entities(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    if not wanted:
        return list(available)
    known = set(available)
    requested: list[str] = []
    for item in wanted:
        for name in item.split(","):
            name = name.strip()
            if name and name not in requested:
                requested.append(name)
    unknown = [n for n in requested if n not in known]
    if unknown:
        lower = {a.lower(): a for a in available}
        hints = [
            f"{n} (did you mean {lower[n.lower()]}?)" if n.lower() in lower else n for n in unknown
        ]
        raise PullError(
            "not in the schemas/ snapshot (pull only refreshes known collections; "
            f"new ones come from the Swagger via bootstrap): {', '.join(hints)}"
        )
    return requested


# --------------------------------------------------------------------------- entry point


def pull(
    out_dir: Path,
    *,
    base_url: str | None = None,
    entities: Sequence[str] | None = None,
    concurrency: int = 3,
    keep_tenant_labels: bool = False,
    env: dict[str, str] | None = None,
) -> str:
    """Pull into ``out_dir`` and return the text to print (drift report and summary)."""
    source = dict(os.environ) if env is None else env
    creds = Credentials.from_env(source)
    notes: list[str] = []
    available = snapshot_entities(out_dir)
    selected = select_entities(available, entities)
    url = base_url or source.get("AUTOTASK_API_URL")
    if not url:
        if not creds.username:
            raise PullError(
                "no base URL: pass --base-url or set AUTOTASK_API_URL, or set AUTOTASK_USERNAME "
                "for zone discovery"
            )
        url = discover_zone(creds.username, creds, source.get("AUTOTASK_ZONE_DISCOVERY_URL"))
        notes.append(f"zone discovered: {url}")
    url = normalise_base_url(url)
    if not creds.complete:
        missing = [
            var
            for var, value in (
                ("AUTOTASK_USERNAME", creds.username),
                ("AUTOTASK_SECRET", creds.secret),
                ("AUTOTASK_INTEGRATION_CODE", creds.integration_code),
            )
            if not value
        ]
        notes.append(f"warning: {', '.join(missing)} not set; those auth headers are not sent")

    results, retries = asyncio.run(fetch_all(url, creds, selected, concurrency))

    with tempfile.TemporaryDirectory(prefix="codegen-pull-") as tmp:
        before = Path(tmp) / "schemas"
        shutil.copytree(out_dir, before)
        changed, removed = write_results(out_dir, results, keep_labels=keep_tenant_labels)
        report = diff_trees(before, out_dir)
    report.old = f"{out_dir} (before pull)"
    report.new = f"{out_dir} (pulled from {url})"
    lines = [*notes, report.format_text().rstrip("\n"), ""]
    pulled = len(results) - len(removed)
    lines.append(
        f"pull: {pulled} entit{'y' if pulled == 1 else 'ies'} pulled, {len(removed)} removed, "
        f"{len(changed)} file(s) changed under {out_dir}"
        + (f", {retries} request(s) retried after rate/thread limits" if retries else "")
    )
    for result in removed:
        lines.append(
            f"pull: {result.name} removed: the API answered HTTP {result.missing_status} for "
            f"{result.name}/entityInformation"
        )
    if not keep_tenant_labels:
        lines.append(
            "pull: tenant picklist labels neutralised (use --keep-tenant-labels to keep them)"
        )
    return "\n".join(lines) + "\n"


def run_pull(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines carry ?user= on discovery
    try:
        text = pull(
            Path(args.out),
            base_url=args.base_url,
            entities=args.entities,
            concurrency=args.concurrency,
            keep_tenant_labels=args.keep_tenant_labels,
        )
    except PullError as exc:
        print(f"codegen pull: error: {exc}", file=sys.stderr)
        print("codegen pull: nothing was written", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
