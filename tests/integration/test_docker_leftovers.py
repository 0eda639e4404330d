"""What a harness killed with SIGKILL left behind is found by its labels and removed."""
from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from dockerkit import docker_ready  # noqa: F401  (fixture)
from harness.runtime.docker.layout import target_image
from harness.runtime.docker.resources import PID_LABEL, leftovers, remove_orphans, run_labels

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_resources_of_a_dead_harness_process_are_removed_and_a_live_ones_are_not(docker_ready: Any) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_run, live_run = f"test-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    gone_labels = {**run_labels(gone_run), PID_LABEL: dead.stdout.strip()}
    client = docker_ready
    client.networks.create(f"harness-{gone_run}", labels=gone_labels)
    client.containers.create(target_image(), ["true"], name=f"harness-{gone_run}-svc", labels=gone_labels)
    client.networks.create(f"harness-{live_run}", labels=run_labels(live_run))  # this process: alive
    try:
        removed = remove_orphans(client)
        assert sorted(removed) == sorted([f"container harness-{gone_run}-svc", f"network harness-{gone_run}"])
        assert leftovers(client, gone_run) == []
        assert leftovers(client, live_run) == [f"network harness-{live_run}"]
    finally:
        for net in client.networks.list(filters={"label": f"io.harness.run={live_run}"}):
            net.remove()
        for c in client.containers.list(all=True, filters={"label": f"io.harness.run={gone_run}"}):
            c.remove(force=True)
        for net in client.networks.list(filters={"label": f"io.harness.run={gone_run}"}):
            net.remove()
