"""The request file format: chunks written once, read back whole, a cut last chunk left alone."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.data import ChunkWriter, Tail, read_requests
from harness.data.chunks import FAIL, INFO, OK, scan


def write_some(path: Path, record_bodies: int = 0) -> None:
    w = ChunkWriter(path, record_bodies=record_bodies)
    w.record({"kind": "load_started", "t": 10.0, "users": 2})
    w.add(10.5, 3.25, OK, 200, 2, "/ok", "GET", None, *( (b"ok", False) if record_bodies else (None, False)))
    w.add(10.2, 900.0, INFO, None, None, "/slow", "GET", "TimeoutError: timed out")
    w.flush()
    w.add(11.0, 5.0, FAIL, 500, 3, "/ok", "GET", "HTTPError: 500", *((b"bo\xc3\xa9", True) if record_bodies else (None, False)))
    w.record({"kind": "load_stopped", "t": 12.0})
    w.close()


def test_requests_read_back_sorted_by_start_with_every_field(tmp_path: Path) -> None:
    write_some(tmp_path / "a.hreq")
    rows = list(read_requests(tmp_path))
    assert [r["t"] for r in rows] == [10.2, 10.5, 11.0]
    assert rows[0] == {"kind": "request", "t": 10.2, "name": "/slow", "method": "GET", "ms": 900.0, "outcome": "info",
                       "status": None, "error": "TimeoutError: timed out", "bytes": None}
    assert rows[1] == {"kind": "request", "t": 10.5, "name": "/ok", "method": "GET", "ms": 3.25, "outcome": "ok",
                       "status": 200, "error": None, "bytes": 2}
    assert (rows[2]["outcome"], rows[2]["status"], rows[2]["error"]) == ("fail", 500, "HTTPError: 500")


def test_bodies_round_trip_with_the_truncation_flag(tmp_path: Path) -> None:
    write_some(tmp_path / "a.hreq", record_bodies=8)
    rows = list(read_requests(tmp_path))
    assert "body" not in rows[0]  # no answer, no body
    assert (rows[1]["body"], rows[1].get("body_truncated")) == ("ok", None)
    assert (rows[2]["body"], rows[2].get("body_truncated")) == ("boé", True)


def test_several_writers_merge_without_losing_or_doubling_a_request(tmp_path: Path) -> None:
    for i in range(3):
        w = ChunkWriter(tmp_path / f"worker-{i}.hreq")
        for k in range(100):
            w.add(100.0 + k + i / 10, 1.0 + i, OK if k % 7 else FAIL, 200, 1, f"/w{i}" if k % 2 else "/shared", "GET", None)
            if k % 30 == 0:
                w.flush()
        w.close()
    table = read_requests(tmp_path)
    assert len(table) == 300
    assert list(table.t) == sorted(table.t)
    assert len(table.where(name="/shared")) == 150
    assert {n for n, _ in table.endpoints} == {"/shared", "/w0", "/w1", "/w2"}
    assert table.failed == 3 * len([k for k in range(100) if k % 7 == 0])


def test_a_cut_last_chunk_is_skipped_and_the_rest_counts(tmp_path: Path) -> None:
    path = tmp_path / "a.hreq"
    w = ChunkWriter(path)
    w.add(1.0, 1.0, OK, 200, 1, "/a", "GET", None)
    w.flush()
    w.add(2.0, 1.0, OK, 200, 1, "/a", "GET", None)
    w.close()
    path.write_bytes(path.read_bytes()[:-5])  # a crash in the middle of the last chunk
    assert [r["t"] for r in read_requests(tmp_path)] == [1.0]


def test_tail_counts_from_chunk_headers_and_returns_json_records_in_order(tmp_path: Path) -> None:
    write_some(tmp_path / "a.hreq")
    tail = Tail(tmp_path)
    assert [r["kind"] for r in tail.poll()] == ["load_started", "load_stopped"]
    assert (tail.requests, tail.failures) == (3, 2)
    assert tail.poll() == [] and tail.requests == 3  # nothing new: nothing counted twice


def test_ids_fit_the_narrowest_column_chosen_per_chunk(tmp_path: Path) -> None:
    w = ChunkWriter(tmp_path / "a.hreq")
    for k in range(300):
        w.add(float(k), 1.0, OK, 200, 1, f"/e{k}", "GET", f"err {k}")
    w.close()
    with (tmp_path / "a.hreq").open("rb") as f:
        [(chunk, _, _)] = list(scan(f))
    dtypes = {name: dtype for name, dtype, _ in chunk.header["columns"]}
    assert dtypes["endpoint"] == "<u2" and dtypes["error"] == "<u2"
    table = read_requests(tmp_path)
    assert table[299]["name"] == "/e299" and table[299]["error"] == "err 299"


def test_the_writer_module_does_not_import_numpy() -> None:
    code = "import sys, harness.data.chunks; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
