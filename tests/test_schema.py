"""The published JSON Schemas: up to date with the models, every field described, the shipped files valid,
and a wrong file refused by an editor's validator as by the loader."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from harness.cli import main
from harness.schema import SCHEMAS, render

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SYSTEMS = sorted(ROOT.glob("targets/*/system.yaml")) + sorted(ROOT.glob("examples/**/system.yaml"))
SHIPPED_EXPERIMENTS = sorted(ROOT.glob("experiments/*.yaml")) + sorted(
    p for p in ROOT.glob("examples/**/*.yaml") if p.name != "system.yaml" and "compose" not in p.name)


def validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "schema" / f"{kind}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_the_committed_schema_is_what_the_models_generate(kind: str) -> None:
    committed = (ROOT / "schema" / f"{kind}.schema.json").read_text()
    assert committed == render(kind), f"schema/{kind}.schema.json is stale: `harness schema {kind} > schema/{kind}.schema.json`"
    jsonschema.Draft202012Validator.check_schema(json.loads(committed))


def _undescribed(node: Any, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            plain_ref = isinstance(prop, dict) and (set(prop) == {"$ref"} or any("$ref" in a for a in prop.get("anyOf", [])))
            if isinstance(prop, dict) and "description" not in prop and not plain_ref and not path.endswith("/if"):
                out.append(f"{path}.{name}")
        for key, value in node.items():
            _undescribed(value, f"{path}/{key}", out)
    elif isinstance(node, list):
        for value in node:
            _undescribed(value, path, out)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_field_is_described(kind: str) -> None:
    missing: list[str] = []
    _undescribed(SCHEMAS[kind](), "", missing)
    assert not missing, f"fields without a description (Field(description=...)): {missing}"


@pytest.mark.parametrize("path", SHIPPED_SYSTEMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_manifests_validate(path: Path) -> None:
    errors = [e.message for e in validator("system").iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors


@pytest.mark.parametrize("path", SHIPPED_EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_experiments_validate(path: Path) -> None:
    errors = [e.message for e in validator("experiment").iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors


def test_the_example_files_name_the_schema_for_editors() -> None:
    first = (ROOT / "examples/nginx-failover/system.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schema/system.schema.json"
    assert (ROOT / "examples/nginx-failover" / first.split("=", 1)[1]).resolve() == ROOT / "schema/system.schema.json"


@pytest.mark.parametrize("bad, where", [
    ({"type": "latency", "window": "before", "percentil": 99, "max": "1s"}, "percentil"),
    ({"type": "latency", "max": [1]}, "max"),
    ({"type": "error_rate", "max": 2}, "max"),
])
def test_a_wrong_check_is_refused_by_the_schema(bad: dict[str, Any], where: str) -> None:
    exp = {"name": "x", "system": "circuit-breaker", "load": {"duration": "10s"}, "checks": [bad]}
    errors = list(validator("experiment").iter_errors(exp))
    assert errors and any(where in (e.message + str(list(e.absolute_path))) for e in errors)


def test_a_wrong_fault_attribute_is_refused_by_the_schema() -> None:
    exp = {"name": "x", "system": "s", "load": {"duration": "10s"},
           "faults": [{"type": "latency", "edge": "a->b", "start": "1s", "attributes": {"latncy": 100}}]}
    assert any("latncy" in e.message for e in validator("experiment").iter_errors(exp))


def test_harness_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "system"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "System manifest"
