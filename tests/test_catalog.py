"""The catalogue: built-in systems are found beside the user's files, never beside the installed package."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import catalog
from harness.errors import InputError
from harness.inventory import inventory

MANIFEST = "name: {name}\nlocustfile: locustfile.py\nentry: web\nservices:\n  web: {{command: [web]}}\n"


def make_catalog(root: Path, *names: str) -> Path:
    for name in names:
        d = root / "targets" / name
        d.mkdir(parents=True)
        (d / "locustfile.py").write_text("")
        (d / "system.yaml").write_text(MANIFEST.format(name=name))
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / "experiments" / f"{name}.yaml").write_text(f"name: {name}\nsystem: {name}\nload: {{duration: 5s}}\n")
    return root


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(catalog.CATALOG_ENV, raising=False)
    monkeypatch.delenv(catalog.TARGETS_ENV, raising=False)


def test_the_current_directorys_targets_are_the_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_catalog(tmp_path, "shop")
    monkeypatch.chdir(tmp_path)
    assert catalog.builtin_systems() == {"shop": tmp_path.resolve() / "targets" / "shop" / "system.yaml"}


def test_an_experiment_finds_the_catalogue_it_lives_in_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_catalog(tmp_path / "checkout", "shop")
    monkeypatch.chdir(tmp_path)
    found = catalog.resolve_system("shop", root / "experiments")
    assert found == root.resolve() / "targets" / "shop" / "system.yaml"


def test_an_explicit_catalogue_comes_first_and_a_missing_one_is_an_input_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here, chosen = make_catalog(tmp_path / "here", "shop"), make_catalog(tmp_path / "chosen", "shop")
    monkeypatch.chdir(here)
    with catalog.using(chosen):
        assert catalog.builtin_systems()["shop"].is_relative_to(chosen.resolve())
    assert catalog.builtin_systems()["shop"].is_relative_to(here.resolve())
    monkeypatch.setenv(catalog.CATALOG_ENV, str(chosen))
    assert catalog.builtin_systems()["shop"].is_relative_to(chosen.resolve())
    monkeypatch.setenv(catalog.CATALOG_ENV, str(tmp_path / "nope"))
    with pytest.raises(InputError, match=r"HARNESS_CATALOG=.*/nope: no such directory"):
        catalog.builtin_systems()


def test_harness_targets_adds_directories_of_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = make_catalog(tmp_path / "extra", "mine") / "targets"
    monkeypatch.chdir(make_catalog(tmp_path / "here", "shop"))
    monkeypatch.setenv(catalog.TARGETS_ENV, str(extra))
    assert sorted(catalog.builtin_systems()) == ["mine", "shop"]


def test_without_a_catalogue_the_inventory_says_where_to_get_the_reference_systems(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = inventory()
    assert data["systems"] == [] and data["searched"] == ["targets"]
    assert data["hint"].startswith("no target systems in ")
    assert "ship with the harness repository" in data["hint"] and "--catalog" in data["hint"]


def test_the_inventory_lists_a_catalogues_systems_and_experiments_relative_to_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_catalog(tmp_path, "shop"))
    data = inventory()
    [shop] = data["systems"]
    assert shop["manifest"] == "targets/shop/system.yaml"
    assert [e["path"] for e in shop["experiments"]] == ["experiments/shop.yaml"]
    assert "hint" not in data


def test_a_run_folder_goes_under_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.experiment import load_experiment
    from harness.runner import default_run_dir

    root = make_catalog(tmp_path / "catalog", "shop")
    monkeypatch.chdir(tmp_path)
    run_dir = default_run_dir(load_experiment(root / "experiments" / "shop.yaml"), "slow")
    assert run_dir.parent == tmp_path / "reports" and run_dir.name.endswith("-shop-slow")
