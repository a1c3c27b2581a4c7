"""``codegen import-sources``: copy the raw inputs codegen is built from into ``schemas/source/``.

``codegen bootstrap`` builds ``schemas/`` from these files, and the codegen tests read them, so a
clone of the project needs nothing outside it. ``python -m codegen import-sources --from DIR``
takes them from a folder of the reference data (the collection they were gathered in; each file's
origin is listed in :data:`INPUTS`) and writes:

- each file codegen needs, byte for byte, except the live-tenant capture: its picklist labels of
  non-system values were that tenant's own company, location and queue names, so they are replaced
  by ``"<fieldName> <value>"``, exactly as ``codegen bootstrap`` and ``codegen pull`` neutralise
  them for ``schemas/`` (values, order, parents and flags are kept; the tenant's folder name is left
  out of the recorded path, and n8n's own webhook field catalogue, which nothing here reads, is left
  out);
- ``manifest.json``: per file its origin, the sha256 of the original (what ``schemas/index.json``
  records under ``sources``) and the sha256 of the stored copy;
- ``README.md``: the same, for people.

Running it again on the same originals rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen._jsonio import write_json
from codegen._normalize import is_tenant_label, neutral_label

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "schemas" / "source"
MANIFEST = "manifest.json"
SWAGGER_2026 = "autotask-swagger-v1-2026-06.json"
SWAGGER_2022 = "autotask-swagger-v1-2022-07-SergLGP.json"
LIVE_TENANT = "rest-entity-fields-live-tenant-n8n-cache-2025-03.json"
SOAP_FIELD_INFO = "soap-v1.6-field-info-ecitsolutions-2021-02.json"
SOAP_TO_REST = "soap-to-rest-mapping-derived.json"
CATALOG = "rest-collections-catalog-derived-2026-06.json"


def _neutral_live_capture(raw: bytes) -> bytes:
    """The live-tenant capture with neutral labels, in the original's own JSON layout."""
    doc = json.loads(raw)
    meta = dict(doc.get("_meta") or {})
    meta["source_path"] = re.sub(
        r"cache/autotask/[^/]+/", "cache/autotask/<tenant>/", str(meta.get("source_path", ""))
    )
    meta["note"] = (
        "Raw REST responses of GET /V1.0/{Entity}/entityInformation/fields (fields) and "
        ".../entityInformation/userDefinedFields (userDefinedFields) captured from one live "
        "production tenant by the n8n node's metadata cache. In this copy (written by "
        "`python -m codegen import-sources`) the labels of non-system picklist values are "
        "'<fieldName> <value>' (they were the tenant's own names), the tenant's folder is left "
        "out of source_path and n8n's webhook field catalogue is left out; everything else is "
        "the captured body."
    )
    entities: dict[str, Any] = {}
    for name, body in doc["entities"].items():
        entities[name] = {
            key: [_neutral_item(item) for item in items] for key, items in body.items()
        }
    return json.dumps({"_meta": meta, "entities": entities}, indent=1).encode("utf-8")


def _neutral_item(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    values = item.get("picklistValues")
    if isinstance(values, list):
        out["picklistValues"] = [
            {**pv, "label": neutral_label(pv, str(item["name"]))} if is_tenant_label(pv) else pv
            for pv in values
        ]
    return out


@dataclass(frozen=True)
class SourceFile:
    """One input of codegen, where it came from and what reads it."""

    name: str
    origin: str
    used_by: tuple[str, ...]
    transform: Callable[[bytes], bytes] | None = None  # None: stored byte for byte
    stored_as: str = "verbatim"


INPUTS: tuple[SourceFile, ...] = (
    SourceFile(
        SWAGGER_2026,
        "GitHub aybouzaglou/autotask-rest-api-types, swagger.json, commit "
        "376b846c145407358443eb9e026945e79320f3b3 (2026-06-21): the unmodified output of "
        "https://webservices14.autotask.net/ATServicesRest/swagger/docs/v1",
        (
            "codegen bootstrap (collections, routes, operations, models)",
            "tests/codegen/test_swagger_coverage.py",
            "tests/codegen/test_drift.py",
        ),
    ),
    SourceFile(
        SWAGGER_2022,
        "GitHub SergLGP/AutotaskRestAPI, v1.json, commit "
        "28b4d60a6c915bcfbe12394c7150982a385a0008 (2022-07-14; host webservices18.autotask.net)",
        ("tests/codegen/test_drift.py and docs/drift-2022-07-to-2026-06.md (the older side)",),
    ),
    SourceFile(
        LIVE_TENANT,
        "GitHub msoukhomlinov/n8n-nodes-autotask, cache/autotask/<tenant>/cache.json, commit "
        "c5cb5eb93d55f449825bd8568eca67ca347225a2 (2025-03-28): entityInformation/fields and "
        "userDefinedFields bodies of one live tenant, unwrapped and grouped by entity",
        (
            "codegen bootstrap (field facts of Tickets, Contacts, Resources, CompanyWebhooks, "
            "TicketWebhooks)",
            "tests/codegen/test_pull.py (the bodies its fake tenant serves)",
        ),
        _neutral_live_capture,
        "picklist labels of non-system values neutralised to '<fieldName> <value>'; tenant "
        "folder left out of _meta.source_path; n8n's webhookFieldCatalog_n8nDerived left out",
    ),
    SourceFile(
        SOAP_FIELD_INFO,
        "GitHub ecitsolutions/Autotask, Autotask/Private/AutotaskFieldInfoCache.xml (PowerShell "
        "CLIXML), commit b03e2359236db5da73a8f41e6bf79dc6cc64fac8 (2021-02-22), converted to JSON: "
        "SOAP API 1.6 getEntityInfo/getFieldInfo of 167 entities",
        ("codegen bootstrap (required, read-only, length, reference and picklist flags)",),
    ),
    SourceFile(
        SOAP_TO_REST,
        "derived from the 2026-06 Swagger and the SOAP v1.6 field info: SOAP entity -> REST "
        "model, SOAP -> REST field renames",
        ("codegen bootstrap (SOAP facts under REST names, soapFieldAliases)",),
    ),
    SourceFile(
        CATALOG,
        "derived from the 2026-06 Swagger: 380 collection URLs with their operations, plus "
        "supportsWebhookCallouts from the Autotask documentation",
        ("codegen bootstrap (supportsWebhookCallouts)",),
    ),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """``{file name: entry}`` of ``folder/manifest.json``; empty when the folder has none."""
    path = folder / MANIFEST
    if not path.exists():
        return {}
    files: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["files"]
    return files


def import_sources(from_dir: Path, out_dir: Path = SOURCE_DIR) -> list[Path]:
    """Copy (or derive) every input from ``from_dir`` into ``out_dir``. Returns changed paths."""
    missing = [s.name for s in INPUTS if not (from_dir / s.name).is_file()]
    if missing:
        raise SystemExit(
            f"codegen import-sources: {from_dir} lacks {', '.join(missing)}; pass --from DIR "
            "pointing at the folder of the reference data files"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    files: dict[str, dict[str, Any]] = {}
    for source in INPUTS:
        original = (from_dir / source.name).read_bytes()
        stored = source.transform(original) if source.transform else original
        target = out_dir / source.name
        if not target.exists() or target.read_bytes() != stored:
            target.write_bytes(stored)
            changed.append(target)
        files[source.name] = {
            "origin": source.origin,
            "sha256": _sha256(original),
            "bytes": len(original),
            "stored": source.stored_as,
            "storedSha256": _sha256(stored),
            "storedBytes": len(stored),
            "usedBy": list(source.used_by),
        }
    wanted = {s.name for s in INPUTS} | {MANIFEST}
    for stale in sorted(p for p in out_dir.glob("*.json") if p.name not in wanted):
        stale.unlink()
        changed.append(stale)
    if write_json(out_dir / MANIFEST, {"format": 1, "files": files}):
        changed.append(out_dir / MANIFEST)
    readme = out_dir / "README.md"
    text = _readme(files)
    if not readme.exists() or readme.read_text(encoding="utf-8") != text:
        readme.write_text(text, encoding="utf-8")
        changed.append(readme)
    return changed


def _readme(files: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# schemas/source: the raw inputs codegen is built from",
        "",
        "Written by `python -m codegen import-sources --from DIR` (see `codegen/sources.py`); do not",
        "edit by hand. `make bootstrap` (`python -m codegen bootstrap`) rebuilds `schemas/` from these",
        "files, and the codegen tests read them, so a clone needs nothing outside the project.",
        "`manifest.json` holds the same facts for the tools: `schemas/index.json` records each",
        "original's sha256 under `sources`, and bootstrap refuses a stored copy whose sha256 is not",
        "the manifest's.",
        "",
    ]
    for name, entry in files.items():
        lines += [
            f"## {name}",
            "",
            f"- Origin: {entry['origin']}.",
            f"- Original: {entry['bytes']:,} bytes, sha256 `{entry['sha256']}`.",
            f"- Stored: {entry['stored']} ({entry['storedBytes']:,} bytes, sha256 "
            f"`{entry['storedSha256']}`).",
            f"- Read by: {'; '.join(entry['usedBy'])}.",
            "",
        ]
    return "\n".join(lines)
