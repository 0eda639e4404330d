"""How to store requests: JSON lines vs our chunked columns vs Arrow IPC (and duckdb to query).

    .venv/bin/python benchmarks/format_choice.py [--requests 1000000]

For each candidate, in a fresh subprocess (so peak RSS is its own):
  write   the per-request cost of recording, as the Locust process pays it (a Python call per
          request, the file written in batches every 2,000 rows as the 0.2 s flush does)
  size    bytes on disk per 1M requests
  read    load the file and answer a typical check: p95 and error rate of one endpoint in a
          30 s window, plus the per-second series of the whole run; peak RSS of that process

pyarrow and duckdb are optional (``pip install pyarrow duckdb``); a missing one is skipped.
Writes ``results/format_choice.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = [("GET /orders/[id]", "GET"), ("POST /orders", "POST"), ("GET /health", "GET"), ("GET /catalog", "GET")]
T0 = 1_800_000_000.0
RATE = 5000.0  # requests per second of the synthetic run
W0 = W1 = T0  # the judged window: set from --requests (the middle third of the run)


def synthetic(i: int) -> tuple[float, float, int, int | None, int, str, str, str | None]:
    # Deterministic and cheap: a 5,000 req/s run, 2% failures, 1% timeouts.
    t = T0 + i / RATE
    ms = 2.0 + (i * 7919 % 1000) / 50.0
    k = i % 100
    outcome = 1 if k < 2 else (2 if k == 2 else 0)
    status = 500 if outcome == 1 else (None if outcome == 2 else 200)
    name, method = NAMES[i % len(NAMES)]
    error = "HTTPError: 500" if outcome == 1 else ("TimeoutError: timed out" if outcome == 2 else None)
    return t, ms, outcome, status, 120, name, method, error


def write_jsonl(path: Path, n: int) -> None:
    outcomes = ("ok", "fail", "info")
    heads: dict[tuple[str, str], str] = {}
    with path.open("w", buffering=1 << 16) as f:
        for i in range(n):
            t, ms, o, status, nbytes, name, method, error = synthetic(i)
            head = heads.get((name, method))
            if head is None:
                head = heads[(name, method)] = f',"name":{json.dumps(name)},"method":{json.dumps(method)}'
            err = "null" if error is None else json.dumps(error)
            f.write(f'{{"kind":"request","t":{t!r}{head},"ms":{ms!r},"outcome":"{outcomes[o]}",'
                    f'"status":{"null" if status is None else status},"error":{err},"bytes":{nbytes}}}\n')


def write_chunks(path: Path, n: int) -> None:
    from harness.data.chunks import ChunkWriter

    w = ChunkWriter(path)
    for i in range(n):
        w.add(*synthetic(i))
        if i % 2000 == 1999:
            w.flush()
    w.close()


def write_arrow(path: Path, n: int) -> None:
    import pyarrow as pa

    schema = pa.schema([("t", pa.float64()), ("ms", pa.float64()), ("outcome", pa.uint8()), ("status", pa.uint16()),
                        ("bytes", pa.int64()), ("name", pa.dictionary(pa.int32(), pa.string())),
                        ("method", pa.dictionary(pa.int32(), pa.string())), ("error", pa.dictionary(pa.int32(), pa.string()))])
    cols: list[list] = [[] for _ in range(8)]
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        def flush() -> None:
            batch = pa.record_batch([pa.array(c, type=f.type if not pa.types.is_dictionary(f.type) else pa.string())
                                     .dictionary_encode() if pa.types.is_dictionary(f.type) else pa.array(c, type=f.type)
                                     for c, f in zip(cols, schema)], schema=schema)
            writer.write_batch(batch)
            for c in cols:
                c.clear()
        for i in range(n):
            for c, v in zip(cols, synthetic(i)):
                c.append(v)
            if i % 2000 == 1999:
                flush()
        if cols[0]:
            flush()


def query_jsonl(path: Path) -> dict:
    from harness.journal import History

    recs = [json.loads(line) for line in path.open()]
    return _query_table(History(recs).requests)


def query_chunks(path: Path) -> dict:
    from harness.data import read_requests

    return _query_table(read_requests(path.parent))


def _query_table(table) -> dict:  # type: ignore[no-untyped-def]
    w = table.between(W0, W1).where(name="POST /orders")
    series = table.per_second(T0, float(table.t[-1]))
    return {"n": len(table), "p95": w.percentile(95), "error_rate": w.error_rate(), "seconds": len(series["requests"])}


def query_arrow(path: Path) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    with pa.OSFile(str(path), "rb") as source:
        tbl = pa.ipc.open_stream(source).read_all()
    t = tbl.column("t").to_numpy()
    mask = (t >= W0) & (t < W1)
    sub = tbl.filter(pa.array(mask)).filter(pc.equal(tbl.filter(pa.array(mask)).column("name").cast(pa.string()), "POST /orders"))
    ms = np.sort(sub.column("ms").to_numpy())
    p95 = float(ms[int(np.ceil(0.95 * len(ms))) - 1])
    seconds = np.bincount(((t - T0) // 1).astype(np.int64))
    outcome = sub.column("outcome").to_numpy()
    return {"n": tbl.num_rows, "p95": p95, "error_rate": float(np.count_nonzero(outcome) / len(outcome)),
            "seconds": len(seconds)}


def query_duckdb(path: Path) -> dict:
    import duckdb
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as source:
        tbl = pa.ipc.open_stream(source).read_all()  # noqa: F841 (duckdb scans the local variable)
    con = duckdb.connect()
    p95, rate = con.execute(f"SELECT quantile_disc(ms, 0.95), avg((outcome > 0)::INT) FROM tbl WHERE t >= {W0!r} "
                            f"AND t < {W1!r} AND name = 'POST /orders'").fetchone()
    seconds = con.execute(f"SELECT count(*) FROM (SELECT floor(t - {T0}) s, count(*) FROM tbl GROUP BY 1)").fetchone()[0]
    n = con.execute("SELECT count(*) FROM tbl").fetchone()[0]
    return {"n": n, "p95": p95, "error_rate": rate, "seconds": seconds}


CANDIDATES = {
    "jsonl": (write_jsonl, query_jsonl, "requests.jsonl"),
    "chunks": (write_chunks, query_chunks, "requests/a.hreq"),
    "arrow": (write_arrow, query_arrow, "requests.arrow"),
    "duckdb-over-arrow": (write_arrow, query_duckdb, "requests.arrow"),
}


def child(name: str, phase: str, path: Path, n: int) -> None:
    global W0, W1
    W0, W1 = T0 + n / RATE / 3, T0 + n / RATE * 2 / 3
    write, query, _ = CANDIDATES[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cpu = time.process_time()
    if phase == "write":
        write(path, n)
        out = {"s": time.perf_counter() - started, "cpu_us_per_request": (time.process_time() - cpu) / n * 1e6,
               "bytes": path.stat().st_size}
    else:
        answer = query(path)
        out = {"s": time.perf_counter() - started, **answer}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--only", default=",".join(CANDIDATES))
    p.add_argument("--child", nargs=3, metavar=("NAME", "PHASE", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), args.requests)
        return
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            path = Path(tmp) / name / CANDIDATES[name][2]
            row: dict = {}
            for phase in ("write", "read"):
                proc = subprocess.run([sys.executable, __file__, "--requests", str(args.requests), "--child", name, phase,
                                       str(path)], capture_output=True, text=True)
                if proc.returncode:
                    row = {"skipped": proc.stderr.strip().splitlines()[-1]}
                    break
                row[phase] = json.loads(proc.stdout)
            if "write" in row:
                row["mb_per_1m"] = round(row["write"]["bytes"] / args.requests * 1e6 / 1e6, 1)
            results[name] = row
            print(name, json.dumps(row), flush=True)
    doc = {"name": "format_choice", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "requests": args.requests,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "results": results}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "format_choice.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
