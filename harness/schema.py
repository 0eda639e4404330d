"""JSON Schemas for experiment files and system manifests, generated from the typed models.

``harness schema experiment|system`` prints one; the repository ships both under ``schema/``
(a test keeps them equal to what the models generate), so an editor validates and completes a
file that names it on its first line:

    # yaml-language-server: $schema=https://.../schema/experiment.schema.json   (or a relative path)

The models stay the one source of truth: what the schema adds is what the models leave to code,
each a registry the loader consults (``type:`` of a check selects its parameters, ``type:`` of
a fault its ``attributes``), and the two ways a number may be written in terms of the manifest's
parameters (``{param: NAME, margin: 10%}`` or an expression string such as ``"attempts * 2"``).
Types a plugin registers are not known here: their parameters are left open, never refused.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

from .checks.registry import check_types
from .faults import FAULT_TYPES

__all__ = ["experiment_schema", "system_schema", "SCHEMAS"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


_PARAM_REF: dict[str, Any] = {
    "type": "object",
    "description": "a bound derived from a manifest parameter: {param: NAME, times: 2, margin: 10% | 50ms}",
    "properties": {"param": {"type": "string", "description": "the parameter's name"},
                   "times": {"type": "number", "description": "multiplies the parameter first"},
                   "margin": {"type": ["string", "number"], "description": "added after: '10%' or a duration '50ms'"}},
    "required": ["param"], "additionalProperties": False,
}
_EXPRESSION: dict[str, Any] = {"type": "string", "description": "an expression over the manifest's parameters, "
                                                                "e.g. 'part_deadline * 2'"}


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    internal = _internal_fields(model)
    for name, props in [(model.__name__, schema)] + list(schema.get("$defs", {}).items()):
        for field in internal.get(name, ()):  # set by the loaders (exclude=True), never read from a file
            props.get("properties", {}).pop(field, None)
    return schema


def _internal_fields(model: type[BaseModel], seen: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Model name -> its fields marked ``exclude=True``, for the model and every model it contains."""
    import typing

    seen = {} if seen is None else seen
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = [n for n, info in model.model_fields.items() if info.exclude]
    stack = [info.annotation for info in model.model_fields.values()]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            _internal_fields(tp, seen)
        stack.extend(typing.get_args(tp))
    return seen


def _numeric(schema: dict[str, Any]) -> bool:
    if schema.get("type") in ("number", "integer"):
        return True
    return any(_numeric(s) for s in schema.get("anyOf", []) if isinstance(s, dict))


def _with_param_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Every number or duration of a check's parameters (or a fault's attributes) may name a parameter."""
    out = copy.deepcopy(schema)
    for name, prop in list(out.get("properties", {}).items()):
        if isinstance(prop, dict) and _numeric(prop):
            described = {k: v for k, v in prop.items() if k in ("description", "default", "title")}
            alternatives = [{k: v for k, v in prop.items() if k not in ("description", "default", "title")},
                            {"$ref": "#/$defs/ParamRef"}, _EXPRESSION]
            out["properties"][name] = {**described, "anyOf": alternatives}
    return out


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _hoist(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Move a generated schema's own $defs into the shared ones (the names are the models' names)."""
    for key, value in schema.pop("$defs", {}).items():
        defs.setdefault(key, value)
    return schema


def experiment_schema() -> dict[str, Any]:
    """The schema of an experiment file, with each built-in check's and fault's own fields."""
    from .experiment import ExperimentSpec

    schema = _model_schema(ExperimentSpec)
    defs = schema.setdefault("$defs", {})
    defs["ParamRef"] = _PARAM_REF
    envelope = {"type": {"type": "string", "description": "the check type (harness list); a plugin may add more"},
                "name": {"type": "string", "maxLength": 120, "description": "shown in reports; default: the type"},
                "description": {"type": "string", "description": "what the check proves, for the report"}}
    check_rules = []
    for name in check_types.builtin_names():  # a plugin's checks are not part of the published schema
        ctype = check_types.get(name)
        params = _hoist(_with_param_refs(_model_schema(ctype.Params)), defs)
        props = {**envelope, **params.get("properties", {})}
        check_rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                            "then": {"properties": props, "required": sorted({"type", *params.get("required", [])}),
                                     "additionalProperties": False,
                                     "description": _first_line(ctype.doc)}})
    defs["CheckSpec"] = {"type": "object", "properties": envelope, "required": ["type"],
                         "description": "a check: 'type' selects its parameters (README, Checks)", "allOf": check_rules}
    fault_rules = []
    for name in FAULT_TYPES.builtin_names():
        attributes = _hoist(_with_param_refs(_model_schema(FAULT_TYPES.get(name).Attributes)), defs)
        fault_rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                            "then": {"properties": {"attributes": {**attributes, "description": f"the attributes of "
                                                                   f"'{name}': {_first_line(FAULT_TYPES.get(name).__doc__)}"}}}})
    defs["FaultSpec"]["allOf"] = fault_rules
    _finish(schema, "Experiment", "An experiment: a system under load, faults on a timeline, checks over the history")
    return schema


def system_schema() -> dict[str, Any]:
    """The schema of a system manifest (``system.yaml``)."""
    from .system import SystemSpec

    schema = _model_schema(SystemSpec)
    _finish(schema, "System manifest", "A target system: its services, their edges (each through Toxiproxy), defects")
    return schema


def _finish(schema: dict[str, Any], title: str, description: str) -> None:
    _prune_defs(schema)
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = title
    schema["description"] = description
    _stringly_env(schema)


def _prune_defs(schema: dict[str, Any]) -> None:
    """Drop $defs nothing refers to (those only the loaders' internal fields used)."""
    defs = schema.get("$defs", {})
    while True:
        text = json.dumps({k: v for k, v in schema.items() if k != "$defs"}) + json.dumps(defs)
        unused = [name for name in defs if f'"#/$defs/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del defs[name]


def _stringly_env(node: Any, inside_env: bool = False) -> None:
    """YAML writes ``RETRIES: 3`` and ``DEBUG: true``; the loader turns them into strings, so does the schema."""
    if isinstance(node, dict):
        if inside_env and node.get("additionalProperties") == {"type": "string"}:
            node["additionalProperties"] = {"type": ["string", "number", "boolean"]}
        for key, value in node.items():
            is_env = inside_env or (key == "env" and isinstance(value, dict) and value.get("type") == "object")
            _stringly_env(value, is_env)
    elif isinstance(node, list):
        for value in node:
            _stringly_env(value, inside_env)


SCHEMAS = {"experiment": experiment_schema, "system": system_schema}


def render(kind: str) -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, a final newline."""
    return json.dumps(SCHEMAS[kind](), indent=2, sort_keys=True) + "\n"
