"""Every collection of the 2026-06 Swagger document is a generated entity with the same operations
and fields. The Swagger is read here independently of codegen's own reader."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from py_autotask_generated import ENTITY_NAMES
from py_autotask_generated.entities import MODULES, spec
from py_autotask_generated.models import __all__ as model_names

SWAGGER = (
    Path(__file__).resolve().parents[2] / "schemas" / "source" / "autotask-swagger-v1-2026-06.json"
)
SPECIAL = {
    "ZoneInformation",
    "ThresholdInformation",
    "Version",
    "Authenticate",
    "EntityInformation",
    "Modules",
}


def _swagger() -> dict:
    return json.loads(SWAGGER.read_text())


def _operations_by_collection(doc: dict) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = defaultdict(set)
    for path, methods in doc["paths"].items():
        m = re.fullmatch(r"/V1\.0/(\w+)(?:/\{parentId\}/(\w+))?(/.*)?", path)
        if (
            not m
            or m.group(1) in SPECIAL
            or "invoiceSettings" in path
            or "InvoiceMarkup" in path
            or "InvoicePdf" in path
        ):
            continue
        parent, child, rest = m.group(1), m.group(2), m.group(3) or ""
        key = f"{parent}/{{parentId}}/{child}" if child else parent
        for method in methods:
            verb = method.upper()
            if rest.startswith("/entityInformation"):
                ops[key]
                continue
            if child:
                op = {
                    ("", "GET"): "list",
                    ("", "POST"): "create",
                    ("", "PATCH"): "update",
                    ("", "PUT"): "replace",
                    ("/{id}", "GET"): "get",
                    ("/{id}", "DELETE"): "delete",
                }.get((rest, verb))
            else:
                op = {
                    ("", "POST"): "create",
                    ("", "PATCH"): "update",
                    ("", "PUT"): "replace",
                    ("/query", "GET"): "query",
                    ("/query", "POST"): "query",
                    ("/query/count", "GET"): "count",
                    ("/query/count", "POST"): "count",
                    ("/{id}", "GET"): "get",
                    ("/{id}", "DELETE"): "delete",
                }.get((rest, verb))
            if op:
                ops[key].add(op)
    return ops


def test_every_root_collection_is_a_generated_entity_with_the_same_operations() -> None:
    ops = _operations_by_collection(_swagger())
    roots = {k: v for k, v in ops.items() if "/" not in k}
    assert len(roots) == 232
    assert set(roots) == set(ENTITY_NAMES) == set(MODULES)
    for name, swagger_ops in roots.items():
        assert spec(name).root_operations == frozenset(swagger_ops), name


def test_every_child_collection_is_a_parent_route_with_the_same_operations() -> None:
    ops = _operations_by_collection(_swagger())
    children = {k: v for k, v in ops.items() if "/" in k}
    assert len(children) == 142
    generated: dict[str, frozenset[str]] = {}
    for name in ENTITY_NAMES:
        for route in spec(name).parent_routes:
            generated[f"{route.parent}/{{parentId}}/{route.child}"] = route.operations
    assert set(generated) == set(children)
    for key, swagger_ops in children.items():
        assert generated[key] == frozenset(swagger_ops), key


def test_entity_classes_expose_exactly_the_supported_operations() -> None:
    import importlib

    for name in ENTITY_NAMES:
        module = importlib.import_module(MODULES[name])
        cls = getattr(module, f"{name}Entity")
        entity_spec = module.SPEC
        methods = {
            m
            for m in ("get", "query", "query_all", "count", "create", "update", "replace", "delete")
            if m in cls.__dict__
        }
        expected = set()
        if "get" in entity_spec.root_operations:
            expected.add("get")
        if "query" in entity_spec.root_operations:
            expected |= {"query", "query_all"}
        if "count" in entity_spec.root_operations:
            expected.add("count")
        expected |= {
            op for op in ("create", "update", "replace", "delete") if op in entity_spec.operations
        }
        assert methods == expected, name
    from py_autotask_generated.entities._tickets import TicketsEntity

    assert not hasattr(TicketsEntity, "delete")  # Autotask cannot delete tickets


def test_model_fields_match_the_swagger_models() -> None:
    doc = _swagger()
    models = {}
    for methods in doc["paths"].values():
        for op in methods.values():
            ref = op.get("responses", {}).get("200", {}).get("schema", {}).get("$ref", "")
            m = re.search(r"QueryActionResult\[(\w+),\w+\]", ref)
            tag = op["tags"][0]
            if m and not tag.endswith("Child"):
                models[tag] = m.group(1)
    import py_autotask.models as public

    checked = 0
    for name, model_name in models.items():
        props = set(doc["definitions"][model_name]["properties"]) - {"soapParentPropertyId"}
        cls = getattr(public, spec(name).singular, None) or getattr(public, f"{name}Record")
        aliases = {info.alias or field for field, info in cls.model_fields.items()}
        assert {p.lower() for p in props} == {a.lower() for a in aliases}, name
        checked += 1
    assert checked >= 200
    assert "Ticket" in model_names
