"""How a manifest's service becomes a container: placeholders, upstreams, defects, mounts."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import REPO_ROOT
from harness.errors import InputError
from harness.runtime.docker import layout
from harness.system import load_system

CB = REPO_ROOT / "targets" / "circuit-breaker" / "system.yaml"


def write_system(tmp_path: Path, services: str) -> Path:
    (tmp_path / "locustfile.py").write_text("")
    path = tmp_path / "system.yaml"
    path.write_text(f"name: mine\nlocustfile: locustfile.py\nentry: front\nservices:\n{services}")
    return path


def test_a_built_in_service_runs_from_the_image_with_placeholders_mapped_to_container_paths() -> None:
    system = load_system(CB)
    spec = layout.service_container(system, "orders", proxy_host="10.1.0.2", ports={"orders->payments": 10000})
    assert spec.argv == ["/opt/venv/bin/python", "orders.py"]
    assert spec.workdir == "/app/targets/circuit-breaker"
    assert spec.env["PYTHONPATH"] == "/app/targets/circuit-breaker/../_shared"
    assert spec.env["HOST"] == "0.0.0.0" and spec.env["PORT"] == "8000" and spec.env["HARNESS_SERVICE"] == "orders"
    assert spec.mounts == {}


def test_an_upstream_points_at_its_edge_proxy_not_at_the_service() -> None:
    system = load_system(CB)
    spec = layout.service_container(system, "orders", proxy_host="toxiproxy", ports={"orders->payments": 10007})
    assert spec.env["PAYMENTS_URL"] == "http://toxiproxy:10007"


def test_a_defect_overrides_the_environment_of_its_service_only() -> None:
    system = load_system(CB)
    ports = layout.proxy_ports(system)
    orders = layout.service_container(system, "orders", proxy_host="t", ports=ports, defect="breaker-disabled")
    payments = layout.service_container(system, "payments", proxy_host="t", ports=ports, defect="breaker-disabled")
    assert orders.env["BREAKER_ENABLED"] == "false"
    assert "BREAKER_ENABLED" not in payments.env


def test_the_manifest_port_is_the_container_port(tmp_path: Path) -> None:
    system = load_system(write_system(tmp_path, '  front:\n    command: ["./front", "--port", "{port}", "--data", "{run_dir}/{service}"]\n    port: 9100\n'))
    spec = layout.service_container(system, "front", proxy_host="t", ports={})
    assert spec.port == 9100 and spec.env["PORT"] == "9100"
    assert spec.argv == ["./front", "--port", "9100", "--data", "/harness/run/front"]


def test_a_system_outside_targets_is_mounted_read_only_at_a_fixed_path(tmp_path: Path) -> None:
    system = load_system(write_system(tmp_path, '  front:\n    command: ["{python}", "{dir}/front.py"]\n'))
    spec = layout.service_container(system, "front", proxy_host="t", ports={})
    assert spec.argv == ["/opt/venv/bin/python", "/harness/system/front.py"]
    assert spec.mounts == {str(tmp_path.resolve()): "/harness/system"}
    assert spec.workdir == "/harness/system"


def test_an_unknown_placeholder_names_the_field_and_the_known_ones(tmp_path: Path) -> None:
    # Found when the manifest is loaded (validate), before any runtime lays a container out.
    with pytest.raises(InputError, match=r"services.front.command\[0\]: unknown placeholder \{pyhton\}.*\{python\}"):
        load_system(write_system(tmp_path, '  front:\n    command: ["{pyhton}", "x.py"]\n'))


def test_each_edge_gets_its_own_proxy_port_in_manifest_order() -> None:
    system = load_system(CB)
    assert layout.proxy_ports(system) == {"orders->payments": 10000}
    assert layout.proxy_ports(system, first=20005) == {"orders->payments": 20005}


def test_images_can_be_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(layout.TARGET_IMAGE_ENV, raising=False)
    monkeypatch.delenv(layout.TOXIPROXY_IMAGE_ENV, raising=False)
    assert layout.target_image() == "harness/targets:latest"
    assert layout.toxiproxy_candidates() == ["harness/toxiproxy:2.12.0", "ghcr.io/shopify/toxiproxy:2.12.0"]
    monkeypatch.setenv(layout.TARGET_IMAGE_ENV, "me/targets:1")
    monkeypatch.setenv(layout.TOXIPROXY_IMAGE_ENV, "me/toxiproxy:1")
    assert layout.target_image() == "me/targets:1"
    assert layout.toxiproxy_candidates() == ["me/toxiproxy:1"]


def test_the_source_digest_changes_with_the_code_an_image_copies(tmp_path: Path) -> None:
    for top in ("harness", "targets"):
        (tmp_path / top).mkdir()
    (tmp_path / "targets" / "a.py").write_text("x = 1\n")
    (tmp_path / "harness" / "b.py").write_text("y = 1\n")
    before = layout.source_digest(tmp_path)
    (tmp_path / "harness" / "__pycache__").mkdir()
    (tmp_path / "harness" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    assert layout.source_digest(tmp_path) == before  # bytecode is not source
    (tmp_path / "targets" / "a.py").write_text("x = 2\n")
    assert layout.source_digest(tmp_path) != before
