"""docs/reference.md is the field reference rendered from the models, and up to date."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.schema_doc import render_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_reference_is_what_the_models_render() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert committed == render_markdown(), "docs/reference.md is stale: `harness schema --markdown > docs/reference.md`"


@pytest.mark.parametrize("field", ["stop_timeout", "audit", "`interval`", "timeout_param", "`address`", "`compose`",
                                   "`requirements`", "min_increase", "percentile", "`record_bodies`"])
def test_the_fields_users_asked_about_are_there(field: str) -> None:
    assert field in render_markdown()


def test_harness_schema_markdown_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Reference")
    assert main(["schema"]) == 2
