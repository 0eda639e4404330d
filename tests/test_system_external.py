"""Manifest rules for services already running (address:), images, url: and load-path edges.

Only validation: no address here is ever contacted (192.0.2.0/24 is reserved for documentation).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.allowlist import address_problem, allowing, parse_address, parse_entry
from harness.cli import main
from harness.errors import InputError
from harness.system import load_system

SYSTEM = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  db:
    address: {address}
    health: {{type: tcp}}
  front:
    command: ["{{python}}", "-c", "pass"]
    upstreams:
      - {{service: db, env: DB_URL}}
"""

EXPERIMENT = """\
name: x
system: system.yaml
load: {{duration: 10s}}
faults:
  - {{name: f, {target}, start: 2s, duration: 2s}}
"""


def write(tmp_path: Path, address: str = "127.0.0.1:6379", target: str = "type: down, edge: load->front",
          system: str = SYSTEM) -> Path:
    (tmp_path / "locustfile.py").write_text("from locust import HttpUser\n")
    (tmp_path / "system.yaml").write_text(system.format(address=address))
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT.format(target=target))
    return path


def test_a_loopback_address_is_accepted_and_a_fault_on_the_load_path_validates(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path))]) == 0, capsys.readouterr().err


def test_an_address_outside_loopback_is_refused_at_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, "192.0.2.10:5432"))]) == 2
    err = capsys.readouterr().err
    assert "services.db.address" in err and "outside the loopback range" in err and "--allow-address" in err
    assert "Traceback" not in err


def test_the_allowlist_flag_and_file_let_an_address_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = write(tmp_path, "192.0.2.10:5432")
    assert main(["validate", str(exp), "--allow-address", "192.0.2.10:5432"]) == 0
    assert main(["validate", str(exp), "--allow-address", "192.0.2.0/24"]) == 0
    assert main(["validate", str(exp), "--allow-address", "192.0.2.10:5433"]) == 2  # another port
    listed = tmp_path / "allowed.txt"
    listed.write_text("# staging\n192.0.2.10  # the database\n")
    assert main(["validate", str(exp), "--allowlist", str(listed)]) == 0
    monkeypatch.setenv("HARNESS_ALLOWLIST", str(listed))
    assert main(["validate", str(exp)]) == 0


def test_a_bad_allowlist_entry_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "allowed.txt"
    listed.write_text("10.0.0.0/8\nnot a host\n")
    assert main(["validate", str(write(tmp_path)), "--allowlist", str(listed)]) == 2
    assert "allowed.txt, line 2" in capsys.readouterr().err


def test_process_faults_on_a_running_service_are_an_input_error(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, target="type: kill, service: db"))]) == 2
    err = capsys.readouterr().err
    assert "faults[0].service" in err and "already running" in err and "never kills" in err


def test_an_unknown_load_edge_lists_the_load_edges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, target="type: down, edge: load->nope"))]) == 2
    assert "load->db, load->front" in capsys.readouterr().err


@pytest.mark.parametrize("extra, word", [("command: [x]", "'command'"), ("port: 5", "'port'"),
                                         ("env: {{A: b}}", "'env'"), ("image: pg", "'image'")])
def test_a_running_service_takes_nothing_that_starts_it(tmp_path: Path, extra: str, word: str) -> None:
    write(tmp_path, system=SYSTEM.replace("    health: {{type: tcp}}", f"    health: {{{{type: tcp}}}}\n    {extra}"))
    with pytest.raises(InputError, match=f"already running.*{word}"):
        load_system(tmp_path / "system.yaml")


def test_a_service_says_how_it_runs(tmp_path: Path) -> None:
    write(tmp_path, system=SYSTEM.replace("    address: {address}\n", ""))
    with pytest.raises(InputError, match="'command'.*'image'.*'address'"):
        load_system(tmp_path / "system.yaml")


def test_load_is_a_reserved_service_name(tmp_path: Path) -> None:
    write(tmp_path, system=SYSTEM.replace("  db:", "  load:").replace("service: db", "service: load"))
    with pytest.raises(InputError, match="'load' is reserved"):
        load_system(tmp_path / "system.yaml")


def test_an_image_only_service_runs_in_docker_but_not_locally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = write(tmp_path, system=SYSTEM.replace('command: ["{{python}}", "-c", "pass"]', "image: shop/front:1"))
    assert main(["validate", str(exp), "--runtime", "docker"]) == 0
    assert main(["validate", str(exp)]) == 2
    assert "only an 'image'" in capsys.readouterr().err


def test_addresses_and_entries_parse() -> None:
    assert parse_address("[::1]:6379").host == "::1" and parse_address("localhost:80").port == 80
    for bad in ("6379", "host:", "host:70000", "::1:80"):
        with pytest.raises(ValueError):
            parse_address(bad)
    assert parse_entry("[::1]:6379").port == 6379 and parse_entry("db.internal").host == "db.internal"
    assert address_problem("localhost:6379") is None and address_problem("[::1]:1") is None
    with allowing([parse_entry("db.example")]):
        assert address_problem("db.example:5432") is None  # a host name entry matches as written, unresolved


@pytest.mark.parametrize("ref, ok", [("shop/front:1", True), ("registry.local:5000/a/b:v1.2", True),
                                     ("harness/base:bookworm", True), ("Shop/Front", False), ("a b", False),
                                     ("front:", False)])
def test_image_names_are_checked_at_validate(tmp_path: Path, ref: str, ok: bool) -> None:
    write(tmp_path, system=SYSTEM.replace('command: ["{{python}}", "-c", "pass"]', f"image: '{ref}'"))
    if ok:
        load_system(tmp_path / "system.yaml")
    else:
        with pytest.raises(InputError, match="not an image reference"):
            load_system(tmp_path / "system.yaml")
