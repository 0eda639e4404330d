"""The pytest plugin: resilience experiments written and reported as ordinary tests.

Registered under ``pytest11`` (installed with the package). Its names are all ``harness``-
prefixed, so it sits beside Locust's own pytest plugin (fixtures ``session``, ``fastsession``)
without a clash. Two ways in:

A marker runs an experiment file for the test, and the test fails, one assertion per check,
with each failed check's evidence in the message::

    @pytest.mark.harness("experiments/circuit-breaker.yaml")
    def test_breaker_holds(harness_result): ...

    @pytest.mark.harness("experiments/circuit-breaker.yaml", defect="breaker-disabled", expect="failed")
    def test_breaker_disabled_is_caught(harness_result):
        assert harness_result.check("fails-fast-while-open").verdict == "failed"

The ``harness`` fixture runs experiments from the test body, from a file or composed in Python
(a system, its faults, load and checks), and ``assert_passed()`` turns the checks into the
test's assertion::

    def test_breaker(harness):
        run = harness.run(harness.compose(system="circuit-breaker", load={"users": 8, "duration": "20s"},
                                          faults=[{"type": "latency", "edge": "orders->payments", ...}],
                                          checks=[{"type": "latency", "window": {"during": "latency-1"}, "max": "150ms"}]))
        run.assert_passed()

Every run's folder (journal, result.json, junit.xml, report.html) is attached to the test's
report: a ``harness_run_dir`` entry in ``user_properties`` (a ``<property>`` of pytest's own
JUnit XML) and a "harness" report section with the verdict of each check. Run folders go under
``--harness-out`` (default ``reports/pytest`` under the rootdir), one per test and run.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal

import pytest

if TYPE_CHECKING:
    from .checks.registry import CheckResult, Verdict
    from .experiment import ExperimentSpec
    from .result import RunResult

Expect = Literal["passed", "failed"]
MARKER = "harness"
_expect_key = pytest.StashKey[Expect]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "resilience experiments (harness)")
    group.addoption("--harness-out", metavar="DIR", default=None,
                    help="where run folders go (default: reports/pytest under the rootdir)")
    group.addoption("--harness-runtime", metavar="NAME", default=None,
                    help="runtime for every experiment that does not name one (default: local)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(experiment, defect=None, seed=None, runtime=None, expect='passed'): run a harness experiment file "
        "for this test (fixture harness_result); the test fails unless every check's verdict is `expect`")


# -- what a test sees of a run ---------------------------------------------------------------

class CheckFailed(AssertionError):
    """The checks did not come out as expected; the message carries each one's evidence."""


@dataclass
class ExperimentRun:
    """One finished run: its verdict, its checks, its folder."""

    result: RunResult
    nodeid: str = ""

    @property
    def run_dir(self) -> Path:
        return self.result.run_dir

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def checks(self) -> list[CheckResult]:
        return list(self.result.checks)

    def check(self, name: str) -> CheckResult:
        """The check (or steady-state condition) of that name; KeyError listing the names otherwise."""
        for c in self.result.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r} in this run; checks: {', '.join(c.name for c in self.result.checks)}")

    def assert_passed(self) -> None:
        """Every check passed (and the run completed); otherwise one failure listing each failed check."""
        __tracebackhide__ = True  # the failure is the checks' message, not the plugin's frames
        self._assert("passed")

    def assert_failed(self, *names: str) -> None:
        """The run's verdict is failed; with names, those checks (at least) failed: a defect was caught."""
        __tracebackhide__ = True  # the failure is the checks' message, not the plugin's frames
        if not names:
            self._assert("failed")
            return
        wrong = [self.check(n) for n in names if self.check(n).verdict != "failed"]
        if wrong:
            raise CheckFailed(self._message(f"expected these checks to fail; {len(wrong)} did not", wrong))

    def assert_check(self, name: str, verdict: Verdict = "passed") -> None:
        """One check (or steady-state condition) came out ``verdict``; its evidence in the message otherwise."""
        __tracebackhide__ = True
        c = self.check(name)
        if c.verdict != verdict:
            raise CheckFailed(self._message(f"check {name!r} is {c.verdict}, expected {verdict}", [c]))

    def _assert(self, expect: Expect) -> None:
        __tracebackhide__ = True  # the failure is the checks' message, not the plugin's frames
        if self.result.status not in ("completed", "aborted"):
            raise CheckFailed(self._message(f"the run ended {self.result.status}: {self.result.error or ''}".strip(), []))
        if expect == "passed":
            bad = [c for c in self.result.checks if c.verdict != "passed"]
            if bad or not self.result.checks:
                raise CheckFailed(self._message(f"{len(bad)} of {len(self.result.checks)} checks did not pass", bad))
        elif self.verdict != "failed":
            raise CheckFailed(self._message(f"expected a failed verdict (a defect caught), got {self.verdict}",
                                            [c for c in self.result.checks if c.verdict == "unknown"]))

    def _message(self, headline: str, checks: list[CheckResult]) -> str:
        r = self.result
        lines = [f"{r.experiment} ({r.system}{', defect ' + r.defect if r.defect else ''}, seed {r.seed}): {headline}"]
        for c in checks:
            lines.append(f"  [{c.verdict}] {c.name} ({c.type}): {c.summary}")
            if c.description:
                lines.append(f"      what it means: {c.description}")
            lines.extend(f"      {line}" for line in _evidence_lines(c.evidence))
        lines.append(f"  run folder: {r.run_dir} (report.html, journal.jsonl)")
        return "\n".join(lines)

    def summary(self) -> str:
        r = self.result
        head = f"{r.experiment}: {self.verdict} (status {r.status}{', defect ' + r.defect if r.defect else ''}) -> {r.run_dir}"
        return "\n".join([head, *(f"  [{c.verdict}] {c.name}: {c.summary}" for c in r.checks)])


def _evidence_lines(evidence: dict[str, Any], limit: int = 12) -> list[str]:
    """The evidence, one key a line, each cut to a readable length (the run folder has all of it)."""
    out = []
    for key, value in list(evidence.items())[:limit]:
        if key == "traceback":
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out.append(f"{key}: {text if len(text) <= 200 else text[:200] + ' ...'}")
    if len(evidence) > limit:
        out.append(f"... {len(evidence) - limit} more in result.json")
    return out


# -- running ---------------------------------------------------------------------------------

class Harness:
    """What the ``harness`` fixture gives a test: compose experiments and run them."""

    def __init__(self, item: pytest.Item, out: Path, runtime: str | None):
        self._item = item
        self._out = out
        self._runtime = runtime
        self._count = 0

    def load(self, path: str | Path) -> ExperimentSpec:
        """An experiment file, parsed and validated (relative paths: from the test file's folder)."""
        from .experiment import load_experiment

        return load_experiment(self._relative(path))

    def compose(self, *, system: str | Path, load: dict[str, Any], name: str | None = None,
                faults: list[dict[str, Any]] | None = None, checks: list[dict[str, Any]] | None = None,
                steady_state: dict[str, Any] | None = None, seed: int = 0, description: str = "") -> ExperimentSpec:
        """An experiment declared in Python, validated exactly as a file would be.

        ``system`` is a built-in system's name or a manifest path (relative to the test file);
        the other arguments are an experiment file's fields as plain data.
        """
        from .experiment import parse_experiment
        from .yamlfile import YamlDocument

        base = self._item.path.parent
        sys_ref = str(system)
        if isinstance(system, Path) or sys_ref.endswith((".yaml", ".yml")):
            sys_ref = str((base / system).resolve())
        name = name or re.sub(r"[^a-z0-9-]+", "-", self._item.name.lower()).strip("-")[:64] or "composed"
        data: dict[str, Any] = {"name": name, "description": description, "system": sys_ref, "seed": seed,
                                "load": load, "faults": faults or [], "checks": checks or []}
        if steady_state is not None:
            data["steady_state"] = steady_state
        # The "file" is the test module: problems name it, and relative paths resolve beside it.
        return parse_experiment(YamlDocument(path=self._item.path, data=data, lines={}))

    def run(self, experiment: str | Path | ExperimentSpec, *, defect: str | None = None, seed: int | None = None,
            runtime: str | None = None) -> ExperimentRun:
        """Run an experiment (a file or a composed one) to the end; its folder is attached to the report."""
        from .runner import RunOptions, run_experiment

        exp = experiment if not isinstance(experiment, (str, Path)) else self.load(experiment)
        self._count += 1
        folder = _safe(self._item.nodeid) + (f"-{defect}" if defect else "") + (f"-{self._count}" if self._count > 1 else "")
        result = run_experiment(exp, RunOptions(defect=defect, seed=seed, out=self._out / folder,
                                                runtime=runtime or self._runtime or "local"))
        run = ExperimentRun(result, self._item.nodeid)
        self._item.user_properties.append(("harness_run_dir", str(result.run_dir)))
        self._item.add_report_section("call", "harness", run.summary())
        if result.status == "interrupted":
            # Ctrl-C reached the run (which healed and stopped everything): stop the session, as pytest would.
            raise KeyboardInterrupt(f"harness run interrupted: {result.error or ''} ({result.run_dir})")
        return run

    def _relative(self, path: str | Path) -> Path:
        p = Path(path)
        if p.is_absolute():
            return p
        beside_test = self._item.path.parent / p
        return beside_test if beside_test.exists() else Path(self._item.config.rootpath) / p


def _safe(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_")[-120:]


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Harness:
    """Compose and run harness experiments from a test; see ``harness.pytest_plugin``."""
    config = request.config
    out = config.getoption("--harness-out")
    base = Path(out).resolve() if out else Path(config.rootpath) / "reports" / "pytest"
    return Harness(request.node, base, config.getoption("--harness-runtime"))


@pytest.fixture
def harness_result(request: pytest.FixtureRequest, harness: Harness) -> Iterator[ExperimentRun]:
    """The run of the experiment the test's ``@pytest.mark.harness(...)`` names; checks asserted after the test."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the harness_result fixture needs @pytest.mark.{MARKER}(experiment)")
    if not marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.{MARKER} needs the experiment file")
    kwargs = dict(marker.kwargs)
    expect = kwargs.pop("expect", "passed")
    unknown = set(kwargs) - {"defect", "seed", "runtime"}
    if unknown or expect not in ("passed", "failed"):
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.{MARKER} takes defect=, seed=, runtime=, "
                                f"expect='passed'|'failed' (got {sorted(unknown) or expect!r})")
    request.node.stash[_expect_key] = expect
    run = harness.run(marker.args[0], **kwargs)
    yield run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A marked test runs its experiment even when its body does not ask for the result.
    for item in items:
        if item.get_closest_marker(MARKER) is not None and isinstance(item, pytest.Function):
            if "harness_result" not in item.fixturenames:
                item.fixturenames.append("harness_result")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # The checks of a marked test are its assertion, judged once the body passed: a failure, not an error.
    __tracebackhide__ = True
    outcome = yield
    expect = item.stash.get(_expect_key, None)
    run = getattr(item, "funcargs", {}).get("harness_result")
    if expect is not None and isinstance(run, ExperimentRun):
        run.assert_passed() if expect == "passed" else run.assert_failed()
    return outcome


__all__ = ["CheckFailed", "ExperimentRun", "Harness", "harness", "harness_result"]
