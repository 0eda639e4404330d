"""The CLI's contract: exit codes and messages, without running a system."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_validate_accepts_the_shipped_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "experiments" / "circuit-breaker.yaml")]) == 0
    assert "ok (circuit-breaker" in capsys.readouterr().out


def test_validate_exits_2_and_names_every_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem: circuit-breaker\nload: {duration: 10 s}\n")
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(bad), str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: load.duration: invalid duration '10 s'" in err
    assert f"{missing}: no such experiment file" in err
    assert "Traceback" not in err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    assert "the following arguments are required: experiment" in capsys.readouterr().err


def test_an_unknown_runtime_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "experiments" / "circuit-breaker.yaml"), "--runtime", "kubernetes", "--quiet"])
    assert code == 2
    assert "unknown runtime 'kubernetes'" in capsys.readouterr().err


def test_list_shows_the_circuit_breaker_system(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "circuit-breaker:" in out and "breaker-disabled" in out and "orders->payments" in out


def test_list_shows_every_fault_type_and_which_need_our_toxiproxy_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.split("fault types", 1)[1].splitlines()[1:] if line.strip()}
    assert {"latency", "down", "kill", "http_status", "http_abort", "http_delay", "http_header", "cut_after_match",
            "truncate"} <= set(lines)
    assert "edge, upstream; toxicity per request; status*, body, content_type, retry_after" in lines["http_status"]
    assert "needs the toxiproxy-server built from toxiproxy/" in lines["http_status"]
    assert "toxicity per connection" in lines["latency"] and "needs" not in lines["latency"]


def test_list_json_describes_the_attributes_of_each_fault_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    types = {t["name"]: t for t in json.loads(capsys.readouterr().out)["fault_types"]}
    status = types["http_status"]
    assert (status["target"], status["toxicity"], status["stream"]) == ("edge", "per request", "upstream")
    assert status["attributes"]["status"]["required"] is True
    assert status["attributes"]["retry_after"] == {"required": False, "default": 0,
                                                   "description": "Retry-After in whole seconds; 0: no header"}
    assert types["down"]["toxicity"] is None and types["kill"]["target"] == "service"


def test_the_public_api_is_importable_by_name() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None


EXPERIMENT = str(ROOT / "experiments" / "circuit-breaker.yaml")


def run_out(out: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["run", EXPERIMENT, "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_an_empty_out_is_refused_and_the_current_directory_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "result.json").write_text("precious")
    assert "--out: an empty path" in run_out("", capsys)
    assert (tmp_path / "result.json").read_text() == "precious"


@pytest.mark.parametrize("target", ["file", "/dev/null", "under-a-file", "too-long"])
def test_an_out_that_cannot_be_a_run_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      target: str) -> None:
    (tmp_path / "file").write_text("x")
    out = {"file": str(tmp_path / "file"), "/dev/null": "/dev/null", "under-a-file": str(tmp_path / "file" / "run"),
           "too-long": str(tmp_path / ("x" * 300))}[target]
    err = run_out(out, capsys)
    assert f"--out {out}:" in err


def test_an_out_folder_with_other_files_is_refused_not_cleared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "mine.log").write_text("keep me")
    (tmp_path / "notes.txt").write_text("keep me")
    assert "holds files that are not a run's (notes.txt)" in run_out(str(tmp_path), capsys)
    assert (tmp_path / "logs" / "mine.log").read_text() == "keep me"


def test_clean_with_nothing_left_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    assert main(["clean"]) == 0
    assert "nothing left behind by earlier runs" in capsys.readouterr().out


def test_a_closed_stdout_is_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed:
        def write(self, s: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            raise OSError("no descriptor")
    monkeypatch.setattr("sys.stdout", Closed())
    assert main(["list"]) == 0
    assert main(["validate", EXPERIMENT]) == 0


def test_a_missing_program_is_found_by_validate_for_the_local_runtime(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "locustfile.py").write_text("")
    (tmp_path / "system.yaml").write_text("name: s\nlocustfile: locustfile.py\nentry: a\nservices:\n"
                                          "  a: {command: [no-such-program-xyz, serve]}\n")
    (tmp_path / "exp.yaml").write_text("name: e\nsystem: system.yaml\nload: {duration: 5s}\n")
    assert main(["validate", str(tmp_path / "exp.yaml")]) == 2
    assert "services.a.command: no-such-program-xyz: not found on PATH" in capsys.readouterr().err
    assert main(["validate", "--runtime", "docker", str(tmp_path / "exp.yaml")]) == 0
