import json

import pytest

from servicekit import EVENT_PREFIX, emit_event, env_flag, env_float, env_int


def test_emit_event_prints_one_compact_json_line(capsys):
    emit_event("breaker_state", state="open", previous="closed", breaker="payments")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(EVENT_PREFIX)
    payload = out[len(EVENT_PREFIX):].rstrip("\n")
    assert " " not in payload  # compact
    event = json.loads(payload)
    assert isinstance(event.pop("t"), float)
    assert event == {"type": "breaker_state", "state": "open", "previous": "closed", "breaker": "payments"}


def test_emit_event_keeps_t_for_the_timestamp():
    with pytest.raises(ValueError):
        emit_event("x", t=1)


@pytest.mark.parametrize("raw,expected", [("true", True), ("1", True), ("ON", True), ("false", False),
                                          ("0", False), (" no ", False), ("", True)])
def test_env_flag(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_flag("FLAG", True) is expected


def test_env_readers_fall_back_and_reject_garbage(monkeypatch):
    monkeypatch.delenv("X", raising=False)
    assert env_flag("X", False) is False and env_float("X", 0.5) == 0.5 and env_int("X", 5) == 5
    monkeypatch.setenv("X", "2.5")
    assert env_float("X", 0.0) == 2.5
    for reader in (env_int, env_flag):
        with pytest.raises(ValueError, match="X="):
            reader("X", 1)
