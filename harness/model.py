"""Base for every model parsed from a file: strict fields, helpful unknown-field errors."""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


def _field_names(cls: type[BaseModel]) -> list[str]:
    names = []
    for name, info in cls.model_fields.items():
        names.append(info.alias or name)
    return names


class Spec(BaseModel):
    """A typed piece of an input file. Unknown fields fail with the known ones listed."""

    # allow_inf_nan=False: "nan" or "inf" (as text) in a bound or a rate would compare false with
    # everything and pass or never end; the YAML reader already refuses .nan and .inf.
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = _field_names(cls)
            for key in data:
                if key not in known and key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise PydanticCustomError(
                        "unknown_field",
                        "unknown field '{field}'{hint}; known fields: {known}",
                        {"field": str(key), "hint": hint, "known": ", ".join(known)},
                    )
        return data
