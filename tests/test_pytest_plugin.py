"""The pytest plugin (harness.pytest_plugin), driven with pytester in a subprocess per run.

The inner sessions run real experiments through the real runner with the fakes of
tests/fake_run.py (a runtime registered through harness.plugin, a fake load, a fake clock), so
each takes milliseconds; the real thing (Toxiproxy, Locust, the circuit-breaker system) is
tests/integration/test_pytest_plugin_real.py. A subprocess per inner session keeps this
process's registries and signal handlers out of it, and `-p no:locust` keeps Locust's own plugin
out as pyproject.toml does.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fake_run import write_system  # imported here, before pytester snapshots sys.modules (numpy loads once)

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

CONFTEST = '''
import pytest

import harness.runner
from fake_run import FakeClock, FakeDeployment, FakeLoad, write_system
from harness.plugin import DeployRequest, Deployment, runtime

CLOCK = FakeClock()
DEPLOYED: list[FakeDeployment] = []


@runtime("fake")
def deploy(req: DeployRequest) -> Deployment:
    DEPLOYED.append(FakeDeployment(req, CLOCK))
    return DEPLOYED[-1].start()


def behaviour(offset, dep):
    """The defect 'broken': every request fails while a toxic sits on the edge (no fallback)."""
    if dep.req.defect == "broken" and dep.toxiproxy.toxics:
        return 900.0, "fail"
    return 5.0, "ok"


def make_load(*, out_dir, duration, **_):
    return FakeLoad(CLOCK, lambda: DEPLOYED[-1], out_dir, duration, behaviour)


@pytest.fixture(autouse=True)
def fake_world(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    CLOCK.install(monkeypatch)
    monkeypatch.setattr(harness.runner, "LoadProcess", make_load)
'''

EXPERIMENT = """\
name: shop-back-slow
system: system.yaml
load: {users: 1, duration: 30s}
faults:
  - {name: slow, type: latency, edge: front->back, attributes: {latency: 1s}, start: 8s, duration: 12s}
steady_state:
  warmup: 1s
  settle: 2s
  conditions:
    - {type: error_rate, max: 0.01}
checks:
  - name: errors-during-fault
    description: the fallback answers while back is slow
    type: error_rate
    window: {during: slow}
    max: 0.05
"""

DEFECT = "defects:\n  broken:\n    description: no fallback\n    env: {front: {FALLBACK: 'off'}}\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_system(pytester.path, defects=DEFECT)
    (pytester.path / "exp.yaml").write_text(EXPERIMENT)
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return pytester.runpytest_subprocess("-p", "no:locust", "-p", "no:cacheprovider", *args, timeout=120)


def test_a_marked_test_passes_on_the_sound_system_and_fails_readably_on_the_defect(project: pytest.Pytester) -> None:
    project.makepyfile(test_shop='''
        import pytest

        @pytest.mark.harness("exp.yaml", runtime="fake")
        def test_sound(harness_result):
            assert harness_result.verdict == "passed"

        @pytest.mark.harness("exp.yaml", defect="broken", runtime="fake", seed=3)
        def test_defective():
            pass

        @pytest.mark.harness("exp.yaml", defect="broken", runtime="fake", expect="failed")
        def test_defect_is_caught(harness_result):
            assert harness_result.check("errors-during-fault").verdict == "failed"
    ''')
    result = run(project, "-rf", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    # the failure is the check, with its evidence and the run folder, not a traceback into the harness
    result.stdout.fnmatch_lines([
        "*CheckFailed: shop-back-slow (fake, defect broken, seed 3): 1 of 3 checks did not pass*",
        "*[[]failed[]] errors-during-fault (error_rate): *",
        "*what it means: the fallback answers while back is slow*",
        "*requests: 240*",
        "*run folder: *test_shop.py_test_defective-broken*",
    ])
    assert "harness/runner.py" not in out
    assert "Captured harness call" in out  # the report section: each check's verdict
    junit = ET.parse(project.path / "junit.xml").getroot()
    props = {tc.get("name"): [p.get("value") for p in tc.iter("property") if p.get("name") == "harness_run_dir"]
             for tc in junit.iter("testcase")}
    assert set(props) == {"test_sound", "test_defective", "test_defect_is_caught"}
    for name, dirs in props.items():
        assert len(dirs) == 1 and (Path(dirs[0]) / "result.json").is_file(), name
    assert Path(props["test_sound"][0]).parent == project.path / "reports" / "pytest"


def test_an_experiment_composed_in_python_runs_and_its_folder_goes_under_harness_out(project: pytest.Pytester) -> None:
    project.makepyfile(test_composed='''
        def test_composed(harness):
            exp = harness.compose(
                system="system.yaml",
                load={"users": 1, "duration": "20s"},
                faults=[{"name": "slow", "type": "latency", "edge": "front->back", "attributes": {"latency": "1s"},
                         "start": "5s", "duration": "5s"}],
                checks=[{"name": "no-errors", "type": "error_rate", "window": {"during": "slow"}, "max": 0.05}],
            )
            assert exp.name == "test-composed"
            sound = harness.run(exp)
            sound.assert_passed()
            broken = harness.run(exp, defect="broken")
            broken.assert_failed("no-errors")
            broken.assert_check("no-errors", "failed")
            try:
                broken.assert_check("no-errors")
            except AssertionError as exc:
                assert "check 'no-errors' is failed, expected passed" in str(exc) and "requests:" in str(exc)
            else:
                raise AssertionError("assert_check did not fail")
            assert sound.run_dir != broken.run_dir

        def test_bad_composition_names_the_field(harness):
            import pytest
            from harness.errors import InputError
            with pytest.raises(InputError, match="faults.0.edge|faults\\\\[0\\\\].edge"):
                harness.compose(system="system.yaml", load={"duration": "20s"},
                                faults=[{"type": "latency", "edge": "nowhere", "attributes": {"latency": 1}, "start": "1s"}])
    ''')
    result = run(project, "--harness-out", "runs", "--harness-runtime", "fake")
    result.assert_outcomes(passed=2)
    assert sorted(p.name for p in (project.path / "runs").iterdir()) == [
        "test_composed.py_test_composed", "test_composed.py_test_composed-broken-2"]


def test_misuse_of_the_marker_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_misuse='''
        import pytest

        @pytest.mark.harness("exp.yaml", runtime="fake", defekt="broken")
        def test_typo(harness_result):
            pass
    ''')
    result = run(project)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*takes defect=, seed=, runtime=*defekt*"])


def test_the_plugin_is_registered_and_coexists_with_locust_s(pytester: pytest.Pytester) -> None:
    # Both plugins loaded together: no duplicate fixture or option, and both sets of fixtures exist.
    pytester.makepyfile(test_both='''
        def test_both(request):
            names = request.config.pluginmanager.list_name_plugin()
            assert "harness" in [n for n, _ in names] and "locust" in [n for n, _ in names]
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures", timeout=120)
    assert result.ret == 0, result.stderr.str()
    out = result.stdout.str()
    assert "harness_result" in out and "fastsession" in out
    both = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    both.assert_outcomes(passed=1)


def test_an_interrupted_run_stops_the_session(harness: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The plugin is loaded in this very session (pytest11): its fixture, over a run that Ctrl-C ended.
    import harness.runner as runner  # `as`: a bare `import harness.runner` would rebind the fixture's name
    from harness.result import RunResult

    def interrupted(exp: object, options: object) -> RunResult:
        return RunResult(experiment="x", system="s", run_dir=tmp_path / "run", seed=0, runtime="local",
                         status="interrupted", error="SIGINT during load")

    monkeypatch.setattr(runner, "run_experiment", interrupted)
    with pytest.raises(KeyboardInterrupt, match="SIGINT during load"):
        harness.run(object())  # type: ignore[arg-type]
