"""A team's docker-compose.yml read as a system: what is taken from it, what is refused and why.

Only parsing and validation; tests/integration/test_compose_team.py runs such a file for real.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.system import load_system

TEAM = Path(__file__).resolve().parents[1] / "examples" / "compose-team"

COMPOSE = """\
services:
  front:
    image: shop/front:1
    command: python3 front.py --greeting "{name}"
    environment: [API=http://back:9000, PASSTHROUGH]
    ports: ["127.0.0.1:8080:8080/tcp"]
    depends_on: [back]
  back:
    image: shop/back:1
    expose: ["9000"]
    stop_grace_period: 3s
"""

MANIFEST = """\
name: shop
compose: docker-compose.yml
locustfile: locustfile.py
entry: front
"""


def write(tmp_path: Path, compose: str = COMPOSE, manifest: str = MANIFEST) -> Path:
    (tmp_path / "docker-compose.yml").write_text(compose)
    (tmp_path / "system.yaml").write_text(manifest)
    (tmp_path / "locustfile.py").write_text("from locust import HttpUser\n")
    return tmp_path / "system.yaml"


def test_the_team_stack_reads_as_compose_wrote_it() -> None:
    system = load_system(TEAM / "system.yaml")
    web, api = system.services["web"], system.services["api"]
    assert (web.image, web.port, web.env["API_URL"]) == ("harness/base:bookworm", 8080, "http://api:8000")
    assert api.env == {"GREETING": "hello from the api"}  # from env_file
    assert api.port == 8000 and api.health.type == "container"
    assert web.health.path == "/health" and web.health.timeout == 60  # the manifest's overlay
    assert list(system.edges) == ["web->api"] and system.edges["web->api"].env is None  # reached by name
    assert system.start_order().index("api") < system.start_order().index("web")  # depends_on
    details = system.compose_services["api"]
    assert details.entrypoint == ["python3"] and details.healthcheck is not None
    assert details.healthcheck["interval"] == 1_000_000_000 and details.healthcheck["retries"] == 30
    assert {v["type"] for v in details.volumes} == {"bind", "volume"}
    assert system.compose_services["web"].ignored == ["restart"] and system.compose_services["web"].init is True


def test_commands_keep_their_braces_and_ports_their_container_side(tmp_path: Path) -> None:
    system = load_system(write(tmp_path))
    front = system.services["front"]
    assert front.command == ["python3", "front.py", "--greeting", "{{name}}"]  # escaped: not a placeholder
    assert front.port == 8080 and system.services["back"].port == 9000
    assert "PASSTHROUGH" not in front.env  # a host variable passed through: nothing of this machine leaks in
    assert system.services["back"].stop_timeout == 3


@pytest.mark.parametrize("compose, where, reason", [
    ("services:\n  front: {command: x}\n", "services.front", "has no 'image'"),
    ("services:\n  front: {image: a, network_mode: host}\n", "network_mode", "remove network_mode"),
    ("services:\n  front: {image: a, depends_on: {b: {condition: service_completed_successfully}}}\n"
     "  b: {image: b}\n", "depends_on.b", "only service_started"),
    ("services:\n  front: {image: a, ports: ['http']}\n", "ports", "cannot read a container port"),
])
def test_what_cannot_run_is_refused_with_the_reason(tmp_path: Path, compose: str, where: str, reason: str) -> None:
    with pytest.raises(InputError) as exc:
        load_system(write(tmp_path, compose=compose))
    assert where in exc.value.render() and reason in exc.value.render()


def test_the_overlay_names_compose_services(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a service of docker-compose.yml"):
        load_system(write(tmp_path, manifest=MANIFEST + "services:\n  frnt: {health: {path: /}}\n"))


def test_a_missing_compose_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("")
    (tmp_path / "system.yaml").write_text(MANIFEST)
    with pytest.raises(InputError, match="compose: no such file"):
        load_system(tmp_path / "system.yaml")


def test_the_compose_file_itself_with_an_x_harness_block(tmp_path: Path) -> None:
    compose = COMPOSE + "x-harness:\n  name: shop\n  locustfile: locustfile.py\n  entry: front\n"
    path = write(tmp_path, compose=compose)
    system = load_system(path.parent / "docker-compose.yml")
    assert system.name == "shop" and set(system.services) == {"front", "back"}


def test_validate_defaults_to_docker_for_a_compose_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = tmp_path / "exp" / "experiment.yaml"
    shutil.copytree(TEAM, exp.parent, ignore=shutil.ignore_patterns("__pycache__"))
    assert main(["validate", str(exp)]) == 0
    assert main(["validate", "--runtime", "local", str(exp)]) == 2
    assert "comes from a Compose file" in capsys.readouterr().err


def test_a_suite_mixing_compose_and_local_systems_must_name_the_runtime(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    team = tmp_path / "team"
    shutil.copytree(TEAM, team, ignore=shutil.ignore_patterns("__pycache__"))
    shop = TEAM.parent / "your-own-system" / "experiment.yaml"
    assert main(["run", "--out", str(tmp_path / "out"), str(team / "experiment.yaml"), str(shop)]) == 2
    assert "name one --runtime" in capsys.readouterr().err
