"""What the Chaos API says and accepts, without any process: the system's description and fault validation.

A fault posted to ``POST /chaos/faults`` has the same fields as a fault in an experiment file and
goes through the same validation (``harness.experiment``'s), so the answer to bad input is the
message an experiment file would get, with the field path relative to the fault
(``attributes.latency: ...`` where a file says ``faults[0].attributes.latency: ...``).

``start`` is optional here and counts from the moment the fault is posted (default 0: now);
``duration`` removes it by itself after that long (default: until removed or the session ends).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, Problem, Problems
from ..experiment import ExperimentSpec, FaultSpec, _validate_faults
from ..faults import FAULT_TYPES
from ..yamlfile import YamlDocument, problems_from_validation

SOURCE = "POST /chaos/faults"
"""Where a bad fault came from, as an experiment file's problems name the file."""
_PREFIX = "faults[0]"
_FOREVER = 30 * 24 * 3600.0  # the validator's ceiling for durations: "until the session ends"


def describe(exp: ExperimentSpec, *, session: str) -> dict[str, Any]:
    """``GET /chaos/system``: services, edges, fault types with their attributes' JSON Schema, the timeline."""
    system = exp.target
    types = []
    with exp.plugin_scope.active():  # the experiment's own fault types: built-ins and its system's plugins only
        kinds = [(name, FAULT_TYPES.get(name)) for name in FAULT_TYPES]
    for name, kind in kinds:
        types.append({"name": name, "target_kind": kind.target_kind, "per_connection": kind.per_connection,
                      "default_stream": kind.default_stream, "needs_http_toxics": kind.needs_http_toxics,
                      "doc": (type(kind).__doc__ or "").strip().split("\n")[0],
                      "attributes": kind.Attributes.model_json_schema()})
    return {
        "session": session,
        "experiment": exp.name,
        "system": system.name,
        "entry": system.entry,
        "services": list(system.services),
        "edges": list(system.edges),
        "fault_types": types,
        "timeline": [f.model_dump(mode="json") for f in exp.faults],
    }


def validate_fault(exp: ExperimentSpec, body: Any, taken: set[str], default_name: str) -> FaultSpec:
    """The posted fault, validated as an experiment file's would be; InputError (nothing applied) otherwise."""
    problems = Problems(file=SOURCE)
    if not isinstance(body, dict):
        raise InputError([Problem("", "the body must be a JSON object with the fields of an experiment's fault "
                                      "('type', 'edge' or 'service', 'attributes', ...)")], file=SOURCE)
    raw = {"start": 0, **body}
    try:
        spec = FaultSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_relative(problems_from_validation(exc, None)), file=SOURCE) from None
    if spec.name is None:
        spec.name = default_name
    if spec.name in taken:
        raise InputError([Problem("name", f"a fault named '{spec.name}' is active or scheduled; remove it first "
                                          "or give another name")], file=SOURCE)
    # The experiment's own validation, on a copy holding only this fault and load that never ends.
    probe = exp.model_copy(update={"faults": [spec], "load": exp.load.model_copy(update={"duration": _FOREVER * 2})})
    probe.system_spec = exp.system_spec
    _validate_faults(probe, YamlDocument(Path(SOURCE), raw, {}), problems)
    if problems.items:
        raise InputError(_relative([p for p in problems.items if "load lasts only" not in p.message]), file=SOURCE)
    return spec


def _relative(problems: list[Problem]) -> list[Problem]:
    for p in problems:
        if p.path == _PREFIX:
            p.path = ""
        elif p.path.startswith(_PREFIX + "."):
            p.path = p.path[len(_PREFIX) + 1:]
    return problems
