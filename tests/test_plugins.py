"""Extensions: plugin files scoped to the experiment whose system lists them, installed ones by entry point.

The scoping rule under test: a check type one system's plugin registers is visible to that
system's experiments only; another experiment that names it is refused at validation, as an
unknown check type. Installed extensions (entry points of group ``harness.plugins``) are seen by
every experiment; they are exercised in a subprocess with a distribution made on the fly, so
this process's registries stay as they were.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checks.registry import check_types
from harness.errors import InputError
from harness.experiment import load_experiment
from harness.registry import AmbiguousEntry, UnknownEntry

MANIFEST = """\
name: {name}
locustfile: locustfile.py
entry: front
plugins: [{plugin}]
services:
  front:
    command: ["{{python}}", "front.py"]
"""

PLUGIN = '''\
from harness.plugin import History, Outcome, Spec, Windows, check


class Params(Spec):
    pass


@check("{shared}", Params)
def shared(history: History, p: Params, windows: Windows) -> Outcome:
    return Outcome("passed", "{label}", {{"from": "{label}"}})


@check("{own}", Params)
def own(history: History, p: Params, windows: Windows) -> Outcome:
    return Outcome("passed", "own")
'''

EXPERIMENT = """\
name: {name}
system: system.yaml
load: {{users: 1, duration: 10s}}
checks:
{checks}
"""


def make_system(root: Path, name: str, shared: str, own: str) -> Path:
    root.mkdir()
    (root / "system.yaml").write_text(MANIFEST.format(name=name, plugin="checks.py"))
    (root / "locustfile.py").write_text("# no users needed to validate\n")
    (root / "checks.py").write_text(PLUGIN.format(shared=shared, own=own, label=name))
    return root


def experiment(root: Path, *types: str) -> Path:
    path = root / "exp.yaml"
    path.write_text(EXPERIMENT.format(name=root.name, checks="\n".join(f"  - type: {t}" for t in types)))
    return path


@pytest.fixture
def two_systems(tmp_path: Path) -> tuple[Path, Path]:
    # Unique type names per test: the registries (and imported plugin files) live for the whole process.
    tag = tmp_path.name.replace("-", "_").lower()[-24:]
    a = make_system(tmp_path / "alpha", "alpha", f"same_{tag}", f"alpha_{tag}")
    b = make_system(tmp_path / "beta", "beta", f"same_{tag}", f"beta_{tag}")
    return a, b


def test_a_system_s_plugin_check_validates_its_own_experiments(two_systems: tuple[Path, Path]) -> None:
    a, _ = two_systems
    tag = a.parent.name.replace("-", "_").lower()[-24:]
    exp = load_experiment(experiment(a, f"alpha_{tag}", f"same_{tag}"))
    assert [c.type for c in exp.checks] == [f"alpha_{tag}", f"same_{tag}"]


def test_another_system_s_plugin_check_is_unknown_to_this_experiment(two_systems: tuple[Path, Path]) -> None:
    a, b = two_systems
    tag = a.parent.name.replace("-", "_").lower()[-24:]
    load_experiment(experiment(a, f"alpha_{tag}"))  # alpha's plugin is loaded in this process now
    with pytest.raises(InputError) as err:
        load_experiment(experiment(b, f"alpha_{tag}"))
    assert f"unknown check type 'alpha_{tag}'" in str(err.value)
    assert f"beta_{tag}" in str(err.value)  # the known ones listed are beta's and the built-ins


def test_two_systems_may_register_the_same_name_each_judged_by_its_own(two_systems: tuple[Path, Path]) -> None:
    from harness.checks import evaluate
    from harness.journal import History

    a, b = two_systems
    tag = a.parent.name.replace("-", "_").lower()[-24:]
    exp_a = load_experiment(experiment(a, f"same_{tag}"))
    exp_b = load_experiment(experiment(b, f"same_{tag}"))
    history = History([])
    assert [r.evidence for r in evaluate(exp_a, history)] == [{"from": "alpha"}]
    assert [r.evidence for r in evaluate(exp_b, history)] == [{"from": "beta"}]
    with pytest.raises(AmbiguousEntry, match="several plugins"):  # outside any experiment's scope
        check_types.get(f"same_{tag}")


def test_outside_a_scope_a_plugin_check_loaded_by_hand_is_found(two_systems: tuple[Path, Path]) -> None:
    # What tests of a target's checks do: load the manifest's plugins, then look the type up.
    from harness import plugins
    from harness.system import load_system

    a, _ = two_systems
    tag = a.parent.name.replace("-", "_").lower()[-24:]
    scope = plugins.load_for(load_system(a / "system.yaml"))
    assert check_types.get(f"alpha_{tag}").name == f"alpha_{tag}"
    with scope.active():
        assert f"alpha_{tag}" in check_types.names() and "latency" in check_types.names()
    with pytest.raises(UnknownEntry):
        check_types.get(f"nothing_{tag}")


def test_a_plugin_cannot_redefine_a_built_in_check(tmp_path: Path) -> None:
    root = make_system(tmp_path / "gamma", "gamma", "latency", f"gamma_{tmp_path.name[-12:].replace('-', '_')}")
    with pytest.raises(InputError, match="check type 'latency' is built in"):
        load_experiment(experiment(root, "latency"))


# -- installed extensions (entry points), in a subprocess -------------------------------------

DIST_PLUGIN = '''\
from harness.plugin import History, Outcome, Spec, Windows, check


class Params(Spec):
    max: int = 0


@check("installed_check", Params)
def installed_check(history: History, p: Params, windows: Windows) -> Outcome:
    return Outcome("passed", "installed")
'''


def install_fake_distribution(site: Path, value: str = "acme_checks") -> None:
    """A distribution as pip leaves it: a module and a dist-info with an entry point."""
    info = site / "acme_checks-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "acme_checks.py").write_text(DIST_PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[harness.plugins]\nacme = {value}\n")


def validate(exp: Path, site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "HARNESS_DISABLE_PLUGIN_AUTOLOAD"}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(exp)], capture_output=True, text=True,
                          env=environ, cwd=exp.parent, timeout=120)


@pytest.fixture
def plain_system(tmp_path: Path) -> Path:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "system.yaml").write_text(MANIFEST.format(name="plain", plugin="").replace("plugins: []\n", ""))
    (root / "locustfile.py").write_text("# no users needed to validate\n")
    return root


def test_an_installed_extension_is_found_through_its_entry_point(tmp_path: Path, plain_system: Path) -> None:
    site = tmp_path / "site"
    install_fake_distribution(site)
    exp = experiment(plain_system, "installed_check")
    ok = validate(exp, site)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    off = validate(exp, site, HARNESS_DISABLE_PLUGIN_AUTOLOAD="1")
    assert off.returncode == 2 and "unknown check type 'installed_check'" in off.stdout + off.stderr


def test_a_broken_installed_extension_is_named_without_a_traceback(tmp_path: Path, plain_system: Path) -> None:
    site = tmp_path / "site"
    install_fake_distribution(site, value="acme_missing_module")
    out = validate(experiment(plain_system, "latency"), site)
    text = out.stdout + out.stderr
    assert out.returncode == 3, text
    assert "entry point acme = acme_missing_module (from acme-checks)" in text and "Traceback" not in text
