"""JSON Pointer (RFC 6901) lookups into a parsed JSON document: ``/parts/0/status``."""
from __future__ import annotations

from typing import Any


def valid_pointer(pointer: str) -> bool:
    """'' (the whole document) or '/'-separated tokens; '~' only as '~0' or '~1'."""
    if pointer == "":
        return True
    if not pointer.startswith("/"):
        return False
    return all(_escapes_ok(token) for token in pointer[1:].split("/"))


def _escapes_ok(token: str) -> bool:
    return all(token[i + 1:i + 2] in ("0", "1") for i, c in enumerate(token) if c == "~")


def resolve_pointer(doc: Any, pointer: str) -> tuple[bool, Any]:
    """(found, value). A missing key, an index out of range or a step into a scalar is not found."""
    if pointer == "":
        return True, doc
    node = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token not in node:
                return False, None
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")) or int(token) >= len(node):
                return False, None
            node = node[int(token)]
        else:
            return False, None
    return True, node
