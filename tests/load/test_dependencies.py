"""The locustfile's own dependencies: load.requirements (installed once into a cache) and load.python.

Real pip, no network: the requirement is a wheel this test builds by hand. The Locust process's own
import path is exercised in a subprocess (importing Locust patches the process for gevent).
"""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.load.dependencies import PATH_ENV, load_paths
from harness.system import load_system

MODULE = "harness_test_extra_dep"

MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  front: {{command: ["{{python}}", "-c", "pass"]}}
{load}"""

EXPERIMENT = "name: x\nsystem: system.yaml\nload: {duration: 5s}\n"

LOCUSTFILE = f"from locust import HttpUser\nimport {MODULE}\n\n\nclass U(HttpUser):\n    pass\n"


def build_wheel(where: Path) -> Path:
    """A minimal valid wheel holding one module (pip installs a local wheel without any index)."""
    name = f"{MODULE}-1.0-py3-none-any.whl"
    files = {f"{MODULE}.py": b"ANSWER = 42\n",
             f"{MODULE}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 1.0\n".encode(),
             f"{MODULE}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}\n"
                     for p, d in files.items()) + f"{MODULE}-1.0.dist-info/RECORD,,\n"
    path = where / name
    with zipfile.ZipFile(path, "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
        z.writestr(f"{MODULE}-1.0.dist-info/RECORD", record)
    return path


@pytest.fixture
def system_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "sys"
    d.mkdir()
    (d / "locustfile.py").write_text(LOCUSTFILE)
    (d / "experiment.yaml").write_text(EXPERIMENT)
    return d


def write(d: Path, load: str) -> Path:
    (d / "system.yaml").write_text(MANIFEST.format(load=load))
    return d / "system.yaml"


def import_in_locust_process(locustfile: Path, paths: list[str]) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from pathlib import Path; from harness.load.locust_process import import_locustfile; "
            f"m = import_locustfile(Path(sys.argv[1])); print(m.{MODULE}.ANSWER)")
    env = {**os.environ, PATH_ENV: os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-c", code, str(locustfile)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_without_the_requirement_validate_refuses_the_import_and_says_where_to_declare_it(
        system_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(system_dir, "")
    assert main(["validate", str(system_dir / "experiment.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"imports '{MODULE}', which is not installed" in err and "load.requirements" in err
    proc = import_in_locust_process(system_dir / "locustfile.py", [])  # and at run time, the same advice
    assert proc.returncode != 0 and "load.requirements" in proc.stderr


def test_requirements_are_installed_once_then_the_locustfile_imports_them(system_dir: Path) -> None:
    wheel = build_wheel(system_dir)
    system = load_system(write(system_dir, f"load: {{requirements: ['{wheel}']}}\n"))
    pending = load_paths(system, install=False)
    assert pending.pending and not pending.paths  # validate never installs ...
    assert main(["validate", str(system_dir / "experiment.yaml")]) == 0  # ... nor refuses what may come from them
    first = load_paths(system, install=True)
    assert first.installed and first.paths == [first.installed]
    again = load_paths(system, install=True)
    assert again.paths == first.paths and again.installed is None  # cached: pip does not run twice
    proc = import_in_locust_process(system_dir / "locustfile.py", again.paths)
    assert proc.returncode == 0 and proc.stdout.strip() == "42", proc.stderr


def test_a_requirements_file_beside_the_manifest(system_dir: Path) -> None:
    wheel = build_wheel(system_dir)
    (system_dir / "requirements-load.txt").write_text(f"# the load test's own\n{wheel}\n")
    system = load_system(write(system_dir, "load: {requirements: requirements-load.txt}\n"))
    assert load_paths(system, install=True).paths


def test_a_requirement_pip_cannot_install_is_bad_input_naming_the_field(system_dir: Path) -> None:
    system = load_system(write(system_dir, f"load: {{requirements: ['{system_dir}/no-such-1.0-py3-none-any.whl']}}\n"))
    with pytest.raises(InputError) as exc:
        load_paths(system, install=True)
    assert "load.requirements: pip could not install" in exc.value.render()
    assert not list((system_dir.parent / "cache" / "load-deps").glob("[!.]*"))  # nothing half-installed is kept


def test_load_python_lends_its_site_packages(system_dir: Path, tmp_path: Path) -> None:
    wheel = build_wheel(system_dir)
    env = tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(next((env / "lib").glob("python3*/site-packages"))), str(wheel)], check=True, timeout=300)
    write(system_dir, f"load: {{python: {env / 'bin' / 'python'}}}\n")
    assert main(["validate", str(system_dir / "experiment.yaml")]) == 0
    paths = load_paths(load_system(system_dir / "system.yaml"), install=False).paths
    assert import_in_locust_process(system_dir / "locustfile.py", paths).stdout.strip() == "42"


def test_load_python_that_is_not_an_interpreter_is_bad_input(system_dir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    write(system_dir, "load: {python: /bin/false}\n")
    assert main(["validate", str(system_dir / "experiment.yaml")]) == 2
    assert "load.python: /bin/false does not run as a Python interpreter" in capsys.readouterr().err
