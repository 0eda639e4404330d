"""docs/reference.md, rendered from the same JSON Schemas (``harness schema --markdown``).

One source of truth: a field's description is its ``Field(description=...)`` in the typed models,
so the reference cannot drift from what the loader accepts (tests/test_schema_doc.py keeps the
committed file equal to this rendering).
"""
from __future__ import annotations

import json
from typing import Any

from .schema import experiment_schema, system_schema

HEADER = """\
# Reference: every field of an experiment file and a system manifest

Generated from the typed models (`harness schema --markdown > docs/reference.md`); the same text is in
`schema/*.schema.json`, which an editor can use (`# yaml-language-server: $schema=...` on a file's first
line). Durations are `250ms`, `2s`, `1.5m` or a number of seconds. The journal's records are described in
[journal.md](journal.md); a walk-through is in [your-own-system.md](your-own-system.md).
"""


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " | ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        parts = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        if any("pattern" in p and "(ms|s|m|h)" in p["pattern"] for p in prop["anyOf"]):
            return "duration"
        return " or ".join(dict.fromkeys(p for p in parts if p))
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {})) or 'any'}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"map of {_type(extra)}" if isinstance(extra, dict) and extra else "mapping"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind or "")


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    return "" if value is None else f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _described(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's own description, else (a field that is just another model) that model's first line."""
    if prop.get("description"):
        return str(prop["description"])
    refs = [prop] + [p for p in prop.get("anyOf", []) if isinstance(p, dict)]
    for ref in refs:
        if "$ref" in ref:
            target = defs.get(ref["$ref"].rsplit("/", 1)[-1], {})
            return str(target.get("description", "")).strip().split("\n\n")[0].replace("\n", " ")
    return ""


def _table(props: dict[str, Any], required: list[str], defs: dict[str, Any]) -> list[str]:
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name in sorted(props, key=lambda n: (n not in required, n)):
        prop = props[name]
        need = " (required)" if name in required else ""
        lines.append(f"| `{name}`{need} | {_cell(_type(prop))} | {_cell(_default(prop))} | "
                     f"{_cell(_described(prop, defs))} |")
    return lines


def _object(title: str, node: dict[str, Any], out: list[str], defs: dict[str, Any], level: str = "###") -> None:
    out += ["", f"{level} {title}", ""]
    if node.get("description"):
        out += [node["description"].strip().split("\n\n")[0].replace("\n", " "), ""]
    out += _table(node.get("properties", {}), node.get("required", []), defs)


def _document(title: str, schema: dict[str, Any], out: list[str], skip: set[str]) -> None:
    out += ["", f"## {title}"]
    defs = schema.get("$defs", {})
    _object("top level", schema, out, defs)
    for name in sorted(defs):
        if name not in skip:
            _object(name, defs[name], out, defs)


def render_markdown() -> str:
    out = [HEADER.rstrip()]
    system = system_schema()
    _document("System manifest (system.yaml)", system, out, skip=set())
    exp = experiment_schema()
    defs = exp["$defs"]
    _document("Experiment file", exp, out, skip={"CheckSpec", "ParamRef"})
    out += ["", "### CheckSpec: the checks", "",
            "Every check takes `type`, `name` and `description`; `type` selects the rest. Any number or duration "
            "may instead name a manifest parameter (`{param: NAME, times: 2, margin: 10%}`) or be an expression "
            "over them (`\"part_deadline * 2\"`)."]
    for rule in defs["CheckSpec"]["allOf"]:
        name = rule["if"]["properties"]["type"]["const"]
        then = rule["then"]
        props = {k: v for k, v in then["properties"].items() if k not in ("type", "name", "description")}
        _object(f"check `{name}`", {"description": then.get("description", ""), "properties": props,
                                    "required": [r for r in then.get("required", []) if r != "type"]}, out, defs, "####")
    out += ["", "### Fault attributes", "", "`attributes:` of a fault, by its `type`."]
    for rule in defs["FaultSpec"].get("allOf", []):
        name = rule["if"]["properties"]["type"]["const"]
        attrs = rule["then"]["properties"]["attributes"]
        _object(f"fault `{name}`", attrs, out, defs, "####")
    return "\n".join(out) + "\n"
