"""``comparison.html``: the result of ``harness compare``, one self-contained page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .html import _environment


def render_comparison_html(doc: dict[str, Any]) -> str:
    return _environment().get_template("comparison.html.j2").render(comparison=doc)


def write_comparison_html(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(render_comparison_html(doc), encoding="utf-8")
    return path
