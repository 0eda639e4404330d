"""``{params.NAME}`` in a manifest's command and env: the mechanism gets the numbers its checks use."""
from __future__ import annotations

from pathlib import Path

from harness.runtime.docker.layout import service_container
from harness.system import load_system

MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
parameters: {back_timeout: 750ms, retries: 2}
services:
  back:
    command: ["{python}", "back.py"]
  front:
    command: ["{python}", "front.py", "--timeout-ms", "{params.back_timeout.ms}"]
    env: {BACK_TIMEOUT: "{params.back_timeout}", RETRIES: "{params.retries}"}
    upstreams:
      - {service: back, env: BACK_URL, timeout_param: back_timeout}
"""


def test_containers_get_parameters_in_command_and_env(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("# empty\n")
    (tmp_path / "system.yaml").write_text(MANIFEST)
    system = load_system(tmp_path / "system.yaml")
    spec = service_container(system, "front", proxy_host="toxiproxy", ports={"front->back": 20000})
    assert spec.argv[-2:] == ["--timeout-ms", "750"]
    assert spec.env["BACK_TIMEOUT"] == "0.75" and spec.env["RETRIES"] == "2"
