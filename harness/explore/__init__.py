"""``harness explore SYSTEM``: the standard fault matrix, run on one deployment, judged per cell.

- ``faults``: the matrix's fault kinds (a registry): every edge x {latency below and above the
  caller's timeout, down, reset mid-answer, black hole}, every service x {kill, pause}.
- ``plan``: the cells, their seeded order and phases, fitted to a budget.
- ``runner``: the story (deploy once, cell after cell, heal and stop whatever ends it).
- ``impact`` and ``analysis``: from the journal to the impact matrix and the run's checks.
"""
from __future__ import annotations

from .analysis import GATES, analyse
from .plan import Phases, Plan, make_plan
from .runner import ExploreOptions, explore

__all__ = ["GATES", "ExploreOptions", "Phases", "Plan", "analyse", "explore", "make_plan"]
