"""One manifest -> launch spec for every runtime: placeholders, upstreams through proxies, defects."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from harness.errors import InputError
from harness.runtime.launch import EdgeAddresses, Placement, expand, launch_spec
from harness.system import SystemSpec, load_system

VALUES = {"host": "127.0.0.1", "port": "9000", "edges": EdgeAddresses({"catalog->db": "127.0.0.1:5501"})}


def test_an_edge_placeholder_expands_to_that_edges_proxy_address() -> None:
    url = expand("postgresql://postgres@{edges[catalog->db]}/catalog", VALUES, "defects.d.env.users.DATABASE_URL")
    assert url == "postgresql://postgres@127.0.0.1:5501/catalog"


def test_an_unknown_edge_is_an_input_error_that_names_the_field_and_the_known_edges() -> None:
    with pytest.raises(InputError) as info:
        expand("{edges[catalg->db]}", VALUES, "defects.d.env.users.DATABASE_URL")
    assert str(info.value) == ("defects.d.env.users.DATABASE_URL: unknown edge 'catalg->db' "
                               "(did you mean 'catalog->db'?); known: catalog->db in '{edges[catalg->db]}'")


SYSTEM = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  back:
    command: ["{python}", "back.py", "--port", "{port}"]
  front:
    command: ["{python}", "{dir}/front.py", "--data", "{run_dir}/{service}"]
    cwd: app
    env: {DB: "{edges[front->back]}", LEVEL: info}
    upstreams: [{service: back, env: BACK_URL}]
defects:
  slow: {env: {front: {LEVEL: debug, TIMEOUT: "{port}"}}}
"""


def shop(tmp_path: Path) -> SystemSpec:
    (tmp_path / "locustfile.py").write_text("")
    (tmp_path / "system.yaml").write_text(SYSTEM)
    return load_system(tmp_path / "system.yaml")


def local(system: SystemSpec, port: int) -> Placement:
    return Placement(python="/venv/bin/python", host="127.0.0.1", port=port, directory=system.directory,
                     run_dir="/runs/1", proxy_host="127.0.0.1", proxy_ports={"front->back": 41001})


def container(port: int) -> Placement:
    return Placement(python="/opt/venv/bin/python", host="0.0.0.0", port=port, directory=PurePosixPath("/harness/system"),
                     run_dir="/harness/run", proxy_host="10.0.0.2", proxy_ports={"front->back": 10000})


def test_a_service_gets_its_address_name_and_placeholders_from_the_placement(tmp_path: Path) -> None:
    system = shop(tmp_path)
    spec = launch_spec(system, "front", local(system, 40000))
    assert spec.argv == ["/venv/bin/python", f"{system.directory}/front.py", "--data", "/runs/1/front"]
    assert spec.cwd == system.directory / "app" and spec.port == 40000
    assert {k: spec.env[k] for k in ("HOST", "PORT", "HARNESS_SERVICE", "PYTHONUNBUFFERED")} == {
        "HOST": "127.0.0.1", "PORT": "40000", "HARNESS_SERVICE": "front", "PYTHONUNBUFFERED": "1"}


def test_an_upstream_and_an_edge_placeholder_point_at_the_proxy_never_at_the_service(tmp_path: Path) -> None:
    system = shop(tmp_path)
    spec = launch_spec(system, "front", local(system, 40000))
    assert spec.env["BACK_URL"] == "http://127.0.0.1:41001"
    assert spec.env["DB"] == "127.0.0.1:41001"
    assert "BACK_URL" not in launch_spec(system, "back", local(system, 40001)).env


def test_a_defect_overrides_its_service_environment_with_placeholders_expanded(tmp_path: Path) -> None:
    system = shop(tmp_path)
    spec = launch_spec(system, "front", local(system, 40000), defect="slow")
    assert spec.env["LEVEL"] == "debug" and spec.env["TIMEOUT"] == "40000"
    assert "TIMEOUT" not in launch_spec(system, "back", local(system, 40001), defect="slow").env


def test_the_same_manifest_in_a_container_differs_only_where_the_placement_does(tmp_path: Path) -> None:
    system = shop(tmp_path)
    here, there = launch_spec(system, "front", local(system, 40000)), launch_spec(system, "front", container(8000))
    assert set(here.env) == set(there.env)
    assert there.argv == ["/opt/venv/bin/python", "/harness/system/front.py", "--data", "/harness/run/front"]
    assert there.cwd == PurePosixPath("/harness/system/app")
    assert there.env["BACK_URL"] == "http://10.0.0.2:10000" and there.env["HOST"] == "0.0.0.0"
