"""Drift report between two ``schemas/`` trees (or two Swagger documents).

``diff_trees(old, new)`` compares two snapshots entity by entity: entities added/removed, routes and
operations added/removed (root and ``Parent/{parentId}/Child`` routes), fields added/removed,
retyped (``dataType`` or ``length``), ``isRequired``/``isReadOnly`` flips, picklist values
added/removed/relabelled, user-defined fields added/removed and ``entityInformation`` changes.

``run_diff(old, new)`` accepts two ``schemas/`` directories or two Swagger JSON files (or one of
each); a Swagger file is first turned into a temporary ``schemas/`` tree by ``codegen bootstrap``
with the other reference files of ``schemas/source/`` (or ``--data DIR``). For Swagger inputs the report also
lists the raw Swagger paths added/removed, so its numbers can be checked against the document.

``python -m codegen diff OLD NEW`` prints the text report; ``python -m codegen.drift --json OLD NEW``
prints it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codegen._jsonio import read_json

# --------------------------------------------------------------------------- data model


@dataclass
class Change:
    """One fact of one field (or entity) that changed: ``name: old -> new``."""

    name: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.name} {self.old} -> {self.new}"


@dataclass
class PicklistChange:
    field: str
    added: int = 0
    removed: int = 0
    relabelled: int = 0

    def __str__(self) -> str:
        parts = []
        if self.added:
            parts.append(f"+{self.added}")
        if self.removed:
            parts.append(f"-{self.removed}")
        if self.relabelled:
            parts.append(f"~{self.relabelled} label(s)")
        return f"{self.field} {' '.join(parts)}"


@dataclass
class EntityDrift:
    """Differences of one entity present in both trees (or added/removed as a whole)."""

    name: str
    routes_added: dict[str, list[str]] = field(default_factory=dict)  # url -> operations
    routes_removed: dict[str, list[str]] = field(default_factory=dict)
    operations_added: dict[str, list[str]] = field(default_factory=dict)  # url (in both) -> ops
    operations_removed: dict[str, list[str]] = field(default_factory=dict)
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_renamed: list[Change] = field(default_factory=list)  # same name, other spelling
    fields_retyped: list[Change] = field(default_factory=list)
    required_flips: list[Change] = field(default_factory=list)
    readonly_flips: list[Change] = field(default_factory=list)
    picklists: list[PicklistChange] = field(default_factory=list)
    udfs_added: list[str] = field(default_factory=list)
    udfs_removed: list[str] = field(default_factory=list)
    info_changes: list[Change] = field(default_factory=list)
    field_count: int = 0  # fields in the newer tree (the older one for removed entities)

    def is_empty(self) -> bool:
        return not any(
            (
                self.routes_added,
                self.routes_removed,
                self.operations_added,
                self.operations_removed,
                self.fields_added,
                self.fields_removed,
                self.fields_renamed,
                self.fields_retyped,
                self.required_flips,
                self.readonly_flips,
                self.picklists,
                self.udfs_added,
                self.udfs_removed,
                self.info_changes,
            )
        )


@dataclass
class Summary:
    entities_added: int = 0
    entities_removed: int = 0
    entities_changed: int = 0
    routes_added: int = 0
    routes_removed: int = 0
    operations_added: int = 0
    operations_removed: int = 0
    fields_added: int = 0
    fields_removed: int = 0
    fields_retyped: int = 0
    required_flips: int = 0
    readonly_flips: int = 0
    picklist_values_added: int = 0
    picklist_values_removed: int = 0
    picklist_labels_changed: int = 0
    udfs_added: int = 0
    udfs_removed: int = 0
    swagger_paths_added: int | None = None
    swagger_paths_removed: int | None = None


@dataclass
class DriftReport:
    old: str
    new: str
    entities_added: list[EntityDrift] = field(default_factory=list)
    entities_removed: list[EntityDrift] = field(default_factory=list)
    changed: list[EntityDrift] = field(default_factory=list)
    #: Only for Swagger inputs: raw paths added/removed and those the schemas/ model does not show.
    swagger_paths_added: list[str] | None = None
    swagger_paths_removed: list[str] | None = None
    swagger_paths_unmodelled: list[str] | None = None

    @property
    def summary(self) -> Summary:
        s = Summary(
            entities_added=len(self.entities_added),
            entities_removed=len(self.entities_removed),
            entities_changed=len(self.changed),
        )
        for ent in [*self.entities_added, *self.changed]:
            s.routes_added += len(ent.routes_added)
            s.operations_added += sum(len(ops) for ops in ent.routes_added.values())
            s.operations_added += sum(len(ops) for ops in ent.operations_added.values())
        for ent in [*self.entities_removed, *self.changed]:
            s.routes_removed += len(ent.routes_removed)
            s.operations_removed += sum(len(ops) for ops in ent.routes_removed.values())
            s.operations_removed += sum(len(ops) for ops in ent.operations_removed.values())
        for ent in self.changed:
            s.fields_added += len(ent.fields_added)
            s.fields_removed += len(ent.fields_removed)
            s.fields_retyped += len(ent.fields_retyped)
            s.required_flips += len(ent.required_flips)
            s.readonly_flips += len(ent.readonly_flips)
            s.picklist_values_added += sum(p.added for p in ent.picklists)
            s.picklist_values_removed += sum(p.removed for p in ent.picklists)
            s.picklist_labels_changed += sum(p.relabelled for p in ent.picklists)
            s.udfs_added += len(ent.udfs_added)
            s.udfs_removed += len(ent.udfs_removed)
        if self.swagger_paths_added is not None:
            s.swagger_paths_added = len(self.swagger_paths_added)
        if self.swagger_paths_removed is not None:
            s.swagger_paths_removed = len(self.swagger_paths_removed)
        return s

    @property
    def has_changes(self) -> bool:
        return bool(
            self.entities_added
            or self.entities_removed
            or self.changed
            or self.swagger_paths_added
            or self.swagger_paths_removed
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = asdict(self.summary)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def summary_line(self) -> str:
        s = self.summary
        parts = [
            f"entities +{s.entities_added} -{s.entities_removed} ({s.entities_changed} changed)",
            f"routes +{s.routes_added} -{s.routes_removed}",
            f"operations +{s.operations_added} -{s.operations_removed}",
            f"fields +{s.fields_added} -{s.fields_removed} ({s.fields_retyped} retyped)",
            f"required flips {s.required_flips}",
            f"read-only flips {s.readonly_flips}",
            f"picklist values +{s.picklist_values_added} -{s.picklist_values_removed}"
            + (f" (~{s.picklist_labels_changed} labels)" if s.picklist_labels_changed else ""),
            f"UDFs +{s.udfs_added} -{s.udfs_removed}",
        ]
        if s.swagger_paths_added is not None:
            parts.append(f"Swagger paths +{s.swagger_paths_added} -{s.swagger_paths_removed}")
        return "Summary: " + "; ".join(parts)

    def format_text(self) -> str:
        lines = [f"Drift report: {self.old} -> {self.new}", self.summary_line()]
        if not self.has_changes:
            lines += ["", "No differences."]
            return "\n".join(lines) + "\n"
        lines += ["", f"Entities added ({len(self.entities_added)}):"]
        lines += [line for ent in self.entities_added for line in _whole_entity("+", ent)]
        lines += ["", f"Entities removed ({len(self.entities_removed)}):"]
        lines += [line for ent in self.entities_removed for line in _whole_entity("-", ent)]
        lines += ["", f"Entities changed ({len(self.changed)}):"]
        for ent in self.changed:
            lines.append(f"  {ent.name}")
            lines += [f"    {line}" for line in _entity_lines(ent)]
        if self.swagger_paths_added is not None:
            added = self.swagger_paths_added or []
            removed = self.swagger_paths_removed or []
            unmodelled = set(self.swagger_paths_unmodelled or [])
            lines += [
                "",
                f"Swagger paths added ({len(added)}; * = endpoint schemas/ does not model):",
            ]
            lines += [f"  + {p}{'  *' if p in unmodelled else ''}" for p in added]
            lines += ["", f"Swagger paths removed ({len(removed)}):"]
            lines += [f"  - {p}{'  *' if p in unmodelled else ''}" for p in removed]
        return "\n".join(lines) + "\n"


def _ops(ops: Iterable[str]) -> str:
    return ", ".join(ops) if ops else "(metadata only)"


def _whole_entity(sign: str, ent: EntityDrift) -> list[str]:
    routes = ent.routes_added or ent.routes_removed
    first = f"  {sign} {ent.name} ({ent.field_count} fields)"
    return [first, *(f"      {url} [{_ops(ops)}]" for url, ops in sorted(routes.items()))]


def _entity_lines(ent: EntityDrift) -> list[str]:
    out: list[str] = []
    for url, ops in sorted(ent.routes_added.items()):
        out.append(f"route added: {url} [{_ops(ops)}]")
    for url, ops in sorted(ent.routes_removed.items()):
        out.append(f"route removed: {url} [{_ops(ops)}]")
    for url, ops in sorted(ent.operations_added.items()):
        out.append(f"operations added on {url}: {', '.join(ops)}")
    for url, ops in sorted(ent.operations_removed.items()):
        out.append(f"operations removed on {url}: {', '.join(ops)}")
    sections: list[tuple[str, list[str]]] = [
        ("fields added", ent.fields_added),
        ("fields removed", ent.fields_removed),
        ("fields renamed", [str(c) for c in ent.fields_renamed]),
        ("fields retyped", [str(c) for c in ent.fields_retyped]),
        ("isRequired flipped", [str(c) for c in ent.required_flips]),
        ("isReadOnly flipped", [str(c) for c in ent.readonly_flips]),
        ("picklist values changed", [str(p) for p in ent.picklists]),
        ("UDFs added", ent.udfs_added),
        ("UDFs removed", ent.udfs_removed),
        ("entityInformation changed", [str(c) for c in ent.info_changes]),
    ]
    for label, items in sections:
        if items:
            sep = ", " if label.endswith(("added", "removed")) else "; "
            out.append(f"{label} ({len(items)}): {sep.join(items)}")
    return out


# --------------------------------------------------------------------------- tree reading


@dataclass
class _Entity:
    name: str
    info: dict[str, Any]
    fields: list[dict[str, Any]]
    udfs: list[dict[str, Any]]
    routes: dict[str, list[str]]  # url -> operations (+ "extra: ..." sub-paths)


def _load_json(path: Path, default: Any) -> Any:
    return read_json(path) if path.exists() else default


def _routes(derived: dict[str, Any]) -> dict[str, list[str]]:
    routes: dict[str, list[str]] = {}
    root = derived.get("root")
    if root:
        routes[str(root["url"])] = sorted(root.get("operations") or [])
    for route in derived.get("parentRoutes") or []:
        ops = sorted(route.get("operations") or [])
        ops += [f"extra {x}" for x in sorted(route.get("extras") or [])]
        routes[str(route["url"])] = ops
    return routes


def read_tree(schemas_dir: Path) -> dict[str, _Entity]:
    """Read every entity folder of a ``schemas/`` tree."""
    ent_dir = schemas_dir / "entities"
    if not ent_dir.is_dir():
        raise FileNotFoundError(f"{schemas_dir} is not a schemas/ tree (no entities/ folder)")
    out: dict[str, _Entity] = {}
    for folder in sorted(p for p in ent_dir.iterdir() if p.is_dir()):
        out[folder.name] = _Entity(
            name=folder.name,
            info=dict(_load_json(folder / "entityInformation.json", {}).get("info") or {}),
            fields=list(_load_json(folder / "fields.json", {}).get("fields") or []),
            udfs=list(_load_json(folder / "userDefinedFields.json", {}).get("fields") or []),
            routes=_routes(_load_json(folder / "derived.json", {})),
        )
    return out


# --------------------------------------------------------------------------- comparison


def _type_of(fld: dict[str, Any]) -> str:
    kind = str(fld.get("dataType") or fld.get("type") or "?")
    length = fld.get("length") or 0
    return f"{kind}({length})" if length else kind


def _by_name(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(item.get("name")).lower(): item for item in items}


def _picklist_change(name: str, old: dict[str, Any], new: dict[str, Any]) -> PicklistChange | None:
    old_values = {str(v.get("value")): v for v in old.get("picklistValues") or []}
    new_values = {str(v.get("value")): v for v in new.get("picklistValues") or []}
    change = PicklistChange(
        field=name,
        added=len(new_values.keys() - old_values.keys()),
        removed=len(old_values.keys() - new_values.keys()),
        relabelled=sum(
            1
            for key in old_values.keys() & new_values.keys()
            if old_values[key].get("label") != new_values[key].get("label")
        ),
    )
    return change if (change.added or change.removed or change.relabelled) else None


def _compare_fields(ent: EntityDrift, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    old_by, new_by = _by_name(old), _by_name(new)
    ent.fields_added = sorted(
        (str(new_by[k]["name"]) for k in new_by.keys() - old_by.keys()), key=str.lower
    )
    ent.fields_removed = sorted(
        (str(old_by[k]["name"]) for k in old_by.keys() - new_by.keys()), key=str.lower
    )
    for key in sorted(old_by.keys() & new_by.keys()):
        before, after = old_by[key], new_by[key]
        name = str(after["name"])
        if str(before["name"]) != name:
            ent.fields_renamed.append(Change(name, str(before["name"]), name))
        if _type_of(before) != _type_of(after):
            ent.fields_retyped.append(Change(name, _type_of(before), _type_of(after)))
        if bool(before.get("isRequired")) != bool(after.get("isRequired")):
            ent.required_flips.append(
                Change(
                    name,
                    str(bool(before.get("isRequired"))).lower(),
                    str(bool(after.get("isRequired"))).lower(),
                )
            )
        if bool(before.get("isReadOnly")) != bool(after.get("isReadOnly")):
            ent.readonly_flips.append(
                Change(
                    name,
                    str(bool(before.get("isReadOnly"))).lower(),
                    str(bool(after.get("isReadOnly"))).lower(),
                )
            )
        picklist = _picklist_change(name, before, after)
        if picklist is not None:
            ent.picklists.append(picklist)


def _compare_udfs(ent: EntityDrift, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    old_by, new_by = _by_name(old), _by_name(new)
    ent.udfs_added = sorted(
        (str(new_by[k]["name"]) for k in new_by.keys() - old_by.keys()), key=str.lower
    )
    ent.udfs_removed = sorted(
        (str(old_by[k]["name"]) for k in old_by.keys() - new_by.keys()), key=str.lower
    )
    for key in sorted(old_by.keys() & new_by.keys()):
        name = f"UDF {new_by[key]['name']}"
        before, after = old_by[key], new_by[key]
        if _type_of(before) != _type_of(after):
            ent.fields_retyped.append(Change(name, _type_of(before), _type_of(after)))
        picklist = _picklist_change(name, before, after)
        if picklist is not None:
            ent.picklists.append(picklist)


def _compare_routes(ent: EntityDrift, old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
    for url in sorted(new.keys() - old.keys()):
        ent.routes_added[url] = new[url]
    for url in sorted(old.keys() - new.keys()):
        ent.routes_removed[url] = old[url]
    for url in sorted(old.keys() & new.keys()):
        added = sorted(set(new[url]) - set(old[url]))
        removed = sorted(set(old[url]) - set(new[url]))
        if added:
            ent.operations_added[url] = added
        if removed:
            ent.operations_removed[url] = removed


def _compare_info(ent: EntityDrift, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in sorted(old.keys() | new.keys(), key=str.lower):
        if old.get(key) != new.get(key):
            ent.info_changes.append(Change(key, json.dumps(old.get(key)), json.dumps(new.get(key))))


def diff_entities(
    old: dict[str, _Entity], new: dict[str, _Entity], old_label: str, new_label: str
) -> DriftReport:
    report = DriftReport(old=old_label, new=new_label)
    for name in sorted(new.keys() - old.keys(), key=str.lower):
        report.entities_added.append(
            EntityDrift(
                name=name, routes_added=dict(new[name].routes), field_count=len(new[name].fields)
            )
        )
    for name in sorted(old.keys() - new.keys(), key=str.lower):
        report.entities_removed.append(
            EntityDrift(
                name=name, routes_removed=dict(old[name].routes), field_count=len(old[name].fields)
            )
        )
    for name in sorted(old.keys() & new.keys(), key=str.lower):
        before, after = old[name], new[name]
        ent = EntityDrift(name=name, field_count=len(after.fields))
        _compare_routes(ent, before.routes, after.routes)
        _compare_fields(ent, before.fields, after.fields)
        _compare_udfs(ent, before.udfs, after.udfs)
        _compare_info(ent, before.info, after.info)
        if not ent.is_empty():
            report.changed.append(ent)
    return report


def diff_trees(old_dir: Path, new_dir: Path) -> DriftReport:
    """Compare two ``schemas/`` trees."""
    return diff_entities(read_tree(old_dir), read_tree(new_dir), str(old_dir), str(new_dir))


# --------------------------------------------------------------------------- Swagger inputs


def _is_swagger(path: Path) -> bool:
    return path.is_file()


def _reference_dir(swagger: Path, data_dir: Path | None) -> Path:
    from codegen.sources import LIVE_TENANT, SOAP_FIELD_INFO, SOURCE_DIR

    if data_dir is not None:
        return data_dir
    # The Swagger file's own folder when it holds the other reference files, else schemas/source.
    probe = swagger.resolve().parent
    if all((probe / name).exists() for name in (LIVE_TENANT, SOAP_FIELD_INFO)):
        return probe
    return SOURCE_DIR


def _bootstrap_swagger(swagger: Path, out_dir: Path, work: Path, data_dir: Path | None) -> None:
    """``codegen bootstrap`` of one Swagger file with the other (2026) reference files."""
    from codegen.bootstrap import bootstrap

    ref_dir = _reference_dir(swagger, data_dir)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for item in ref_dir.iterdir():
        if item.is_file() and item.suffix == ".json" and not (data / item.name).exists():
            (data / item.name).symlink_to(item.resolve())
    name = "swagger-under-diff.json"
    (data / name).unlink(missing_ok=True)
    (data / name).symlink_to(swagger.resolve())
    bootstrap(data, out_dir, name)


def _swagger_paths(path: Path) -> set[str]:
    doc = read_json(path)
    if not isinstance(doc, dict) or "paths" not in doc:
        raise ValueError(f"{path} is neither a schemas/ directory nor a Swagger document")
    return set(doc["paths"])


def _modelled(path: str, report: DriftReport) -> bool:
    """Whether an added/removed Swagger path shows up in the entity part of the report."""
    urls = set()
    for ent in [*report.entities_added, *report.entities_removed, *report.changed]:
        urls |= set(ent.routes_added) | set(ent.routes_removed)
        urls |= set(ent.operations_added) | set(ent.operations_removed)
    return any(path == url or path.startswith(url + "/") for url in urls)


def diff_inputs(old: Path, new: Path, data_dir: Path | None = None) -> DriftReport:
    """Drift report for two inputs, each a ``schemas/`` directory or a Swagger JSON file."""
    with tempfile.TemporaryDirectory(prefix="codegen-diff-") as tmp:
        dirs = []
        for label, path in (("old", old), ("new", new)):
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
            if _is_swagger(path):
                _swagger_paths(path)  # validate before bootstrapping
                out = Path(tmp) / label / "schemas"
                _bootstrap_swagger(path, out, Path(tmp) / label, data_dir)
                dirs.append(out)
            else:
                dirs.append(path)
        report = diff_entities(read_tree(dirs[0]), read_tree(dirs[1]), str(old), str(new))
    if _is_swagger(old) and _is_swagger(new):
        before, after = _swagger_paths(old), _swagger_paths(new)
        report.swagger_paths_added = sorted(after - before)
        report.swagger_paths_removed = sorted(before - after)
        report.swagger_paths_unmodelled = [
            p
            for p in [*report.swagger_paths_added, *report.swagger_paths_removed]
            if not _modelled(p, report)
        ]
    return report


def run_diff(old: Path, new: Path, *, as_json: bool = False, data_dir: Path | None = None) -> int:
    """Print the drift report. Exit status 0 (differences are a report, not an error); 2 on bad input."""
    try:
        report = diff_inputs(Path(old), Path(new), data_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"codegen diff: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report.to_json() if as_json else report.format_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen.drift", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("old", type=Path, help="older schemas/ directory or Swagger JSON file")
    parser.add_argument("new", type=Path, help="newer schemas/ directory or Swagger JSON file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="reference data folder used to bootstrap Swagger inputs",
    )
    args = parser.parse_args(argv)
    return run_diff(args.old, args.new, as_json=args.json, data_dir=args.data)


if __name__ == "__main__":
    sys.exit(main())
