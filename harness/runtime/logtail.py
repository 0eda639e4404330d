"""Read resilience events out of a service's log as it grows.

Services report events by printing ``@harness-event {json}`` on a line of their own: works
for any language, survives a SIGKILL (the line is already in the file), and needs no
callback from the service to the harness.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..journal import Record
from ..system import EVENT_PREFIX


class EventTail:
    def __init__(self, service: str, path: Path):
        self.service, self.path = service, path
        self._offset = 0
        self._partial = b""

    def drain(self) -> list[Record]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for its end
        out: list[Record] = []
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            idx = line.find(EVENT_PREFIX)
            if idx < 0:
                continue
            try:
                payload = json.loads(line[idx + len(EVENT_PREFIX):])
            except json.JSONDecodeError:
                continue
            if not isinstance(payload, dict) or "type" not in payload:
                continue
            t = payload.pop("t", None)
            record: Record = {"kind": "event", "t": float(t) if isinstance(t, (int, float)) else time.time(),
                              "service": self.service, **payload}
            out.append(record)
        return out
