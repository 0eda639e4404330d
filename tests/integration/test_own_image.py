"""A manifest service with an image of its own (``image:``) in the Docker runtime, next to one in the
targets image: the guide's shop with ``back`` run from ``harness/base:bookworm`` (plain Debian and
python3, none of the harness inside). About 30 s.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.journal import read_journal

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SHOP = Path(__file__).resolve().parents[2] / "examples" / "your-own-system"
OWN_IMAGE = "harness/base:bookworm"


def test_a_service_runs_from_its_own_image(run_experiment: Callable[..., Any], docker_ready: Any,
                                           tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    manifest = shop / "system.yaml"
    text = manifest.read_text()
    own = f'    image: {OWN_IMAGE}\n    command: ["python3", "{{dir}}/back.py"]\n'
    assert '    command: ["{python}", "back.py"]\n' in text
    manifest.write_text(text.replace('    command: ["{python}", "back.py"]\n', own))
    run = run_experiment(str(shop / "experiment.yaml"), None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    deployment = read_journal(run.out / "journal.jsonl").first("docker_deployment")
    assert deployment and deployment["images"] == {"back": OWN_IMAGE} and deployment["image"]  # front: targets image
    assert_nothing_left(run.out)
