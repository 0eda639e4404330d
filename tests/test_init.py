"""`harness init`: the starter it writes passes `harness validate` as written, and it never overwrites."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_the_starter_validates_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "My Shop"
    assert main(["init", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == ["experiment.yaml", "locustfile.py", "service.py", "system.yaml"]
    assert "next: harness validate" in capsys.readouterr().out
    assert main(["validate", str(target / "experiment.yaml")]) == 0
    out = capsys.readouterr().out
    assert "ok (my-shop-restart: system my-shop, 1 faults, 1 checks, 2 steady-state conditions)" in out
    manifest = (target / "system.yaml").read_text()
    assert manifest.count("\n#") >= 5  # commented: a starter explains itself


def test_a_command_of_the_user_s_own_replaces_the_stand_in(tmp_path: Path) -> None:
    cmd = "{python} -m http.server --bind {host} {port}"
    assert main(["init", str(tmp_path), "--name", "web", "--command", cmd, "--health", "/"]) == 0
    assert not (tmp_path / "service.py").exists()
    manifest = (tmp_path / "system.yaml").read_text()
    assert 'command: ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]' in manifest
    assert "health: {path: /, timeout: 30s}" in manifest
    assert main(["validate", str(tmp_path / "experiment.yaml")]) == 0


def test_existing_files_are_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "locustfile.py").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'locustfile.py'} already exists; harness init never overwrites files" in err
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["locustfile.py"]  # nothing written, not even the others
    assert (tmp_path / "locustfile.py").read_text() == "# mine\n"


def test_a_second_init_refuses_and_names_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--name", "shop"]) == 0
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert main(["init", str(tmp_path), "--name", "shop"]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in before) and "already exist;" in err
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (["--name", "Shop!"], "--name 'Shop!': a system name is lower-case letters"),
    (["--health", "health"], "--health 'health': a path starting with '/'"),
    (["--command", "'unclosed"], "--command \"'unclosed\": No closing quotation"),
    (["--command", "  "], "--command is empty"),
])
def test_bad_options_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["init", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
