"""The realistic-defect set stays usable while the reference systems change.

Fast checks (`make test`): every patch is in the index once and the index names its files and
failure class; every patch still applies to targets/ (a service edited since makes it fail here,
naming the patch, instead of silently dropping out of a catch-rate measurement); no added line
gives the defect away. The slow one (`make test-full`) starts every patched system and runs its
happy path (smoke.py).
"""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENTRIES: list[dict[str, Any]] = yaml.safe_load((HERE / "index.yaml").read_text())
FIELDS = {"system", "name", "files", "class", "description"}
# Words an ordinary commit would not contain next to the change it makes.
GIVEAWAY = re.compile(r"\b(bug|buggy|defect|mutant|mutation|broken on purpose|fixme|xxx)\b", re.IGNORECASE)


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['system']}/{entry['name']}"


def _patch(entry: dict[str, Any]) -> Path:
    return HERE / entry["system"] / f"{entry['name']}.patch"


def _added_lines(patch: Path) -> list[str]:
    return [line[1:] for line in patch.read_text().splitlines() if line.startswith("+") and not line.startswith("+++")]


def test_the_index_lists_every_patch_exactly_once() -> None:
    listed = Counter(_patch(e).relative_to(HERE).as_posix() for e in ENTRIES)
    on_disk = {p.relative_to(HERE).as_posix() for p in HERE.glob("*/*.patch")}
    assert [name for name, n in listed.items() if n > 1] == []
    assert sorted(set(listed) - on_disk) == [], "listed in index.yaml but no such patch"
    assert sorted(on_disk - set(listed)) == [], "patch not listed in index.yaml"


def test_every_reference_system_has_at_least_three_patches() -> None:
    # At least four were written per system; one per system is held out until the final measurement.
    systems = sorted(p.parent.name for p in (ROOT / "targets").glob("*/system.yaml"))
    per_system = Counter(e["system"] for e in ENTRIES)
    assert {s: per_system.get(s, 0) for s in systems if per_system.get(s, 0) < 3} == {}
    assert sorted(set(per_system) - set(systems)) == [], "index names a system that does not exist"


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_an_entry_names_its_files_class_and_report(entry: dict[str, Any]) -> None:
    assert set(entry) == FIELDS
    touched = sorted(line[len("+++ b/"):] for line in _patch(entry).read_text().splitlines() if line.startswith("+++ b/"))
    assert sorted(entry["files"]) == touched
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry["class"]), entry["class"]
    assert len(entry["description"].split()) >= 25, "a bug report says what breaks, when, and what a user sees"


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_a_patch_still_applies_to_the_targets(entry: dict[str, Any]) -> None:
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"], capture_output=True).returncode:
        pytest.skip("not a git work tree: git apply --check needs one")
    done = subprocess.run(["git", "apply", "--check", str(_patch(entry))], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"{_id(entry)} no longer applies (was its service changed?):\n{done.stderr}"


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_a_patch_does_not_give_itself_away(entry: dict[str, Any]) -> None:
    assert [line for line in _added_lines(_patch(entry)) if GIVEAWAY.search(line)] == []


@pytest.mark.full
@pytest.mark.integration
def test_every_patched_system_still_starts_and_serves_its_happy_path() -> None:
    sys.path.insert(0, str(HERE))
    try:
        import smoke
    finally:
        sys.path.remove(str(HERE))
    assert smoke.main([]) == 0
