"""Which image a Docker run uses, and what it says when there is none (no daemon needed)."""
from __future__ import annotations

from typing import Any

import docker
import pytest

from harness.errors import EnvironmentProblem
from harness.runtime.docker import layout
from harness.runtime.docker import images as docker_images, prometheus as docker_prometheus


class FakeImages:
    def __init__(self, present: dict[str, dict[str, str]], pullable: set[str] = frozenset()):  # type: ignore[assignment]
        self.present, self.pullable, self.pulled = present, pullable, []

    def get(self, name: str) -> Any:
        if name not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return type("Image", (), {"labels": self.present[name]})()

    def pull(self, name: str) -> None:
        self.pulled.append(name)
        if name not in self.pullable:
            raise docker.errors.APIError(f"Get https://registry/{name}: dial tcp: lookup registry: no such host")


class FakeClient:
    def __init__(self, images: FakeImages):
        self.images = images


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (layout.TARGET_IMAGE_ENV, layout.TOXIPROXY_IMAGE_ENV, layout.PROMETHEUS_IMAGE_ENV, "HARNESS_PROMETHEUS"):
        monkeypatch.delenv(var, raising=False)


def test_a_missing_targets_image_says_how_to_build_it() -> None:
    with pytest.raises(EnvironmentProblem, match=r"(?s)targets image harness/targets:latest is not there.*hint: build it: `make images`"):
        docker_images.target_image(FakeClient(FakeImages({})), notice=lambda m: None)


def test_a_targets_image_built_from_other_sources_gets_a_notice() -> None:
    notices: list[str] = []
    client = FakeClient(FakeImages({"harness/targets:latest": {layout.SOURCE_LABEL: "0000"}}))
    assert docker_images.target_image(client, notice=notices.append) == "harness/targets:latest"
    assert notices and "rebuild it" in notices[0]
    notices.clear()
    client = FakeClient(FakeImages({"harness/targets:latest": {layout.SOURCE_LABEL: layout.source_digest()}}))
    docker_images.target_image(client, notice=notices.append)
    assert notices == []


def test_toxiproxy_prefers_an_image_that_is_there_and_pulls_the_public_one_otherwise() -> None:
    assert docker_images.toxiproxy_image(FakeClient(FakeImages({"harness/toxiproxy:2.12.0": {}}))) == "harness/toxiproxy:2.12.0"
    both = FakeImages({"harness/toxiproxy:2.12.0": {}, "ghcr.io/shopify/toxiproxy:2.12.0": {}})
    assert docker_images.toxiproxy_image(FakeClient(both)) == "harness/toxiproxy:2.12.0"  # ours has the HTTP toxics
    images = FakeImages({}, pullable={"ghcr.io/shopify/toxiproxy:2.12.0"})
    assert docker_images.toxiproxy_image(FakeClient(images)) == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert images.pulled == ["ghcr.io/shopify/toxiproxy:2.12.0"]
    with pytest.raises(EnvironmentProblem, match=r"no Toxiproxy image.*pulling ghcr.io/shopify/toxiproxy:2.12.0 failed"):
        docker_images.toxiproxy_image(FakeClient(FakeImages({})))


def test_without_a_prometheus_image_the_run_goes_on_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    name, reason = docker_prometheus.image(FakeClient(FakeImages({})))
    assert name is None and "no Prometheus image" in reason and "make images" in reason
    assert docker_prometheus.image(FakeClient(FakeImages({"harness/prometheus:latest": {}}))) == ("harness/prometheus:latest", "")
    monkeypatch.setenv(layout.PROMETHEUS_IMAGE_ENV, "none")
    name, reason = docker_prometheus.image(FakeClient(FakeImages({"harness/prometheus:latest": {}})))
    assert name is None and reason == "Prometheus is turned off ($HARNESS_PROMETHEUS_IMAGE=none)"
    monkeypatch.delenv(layout.PROMETHEUS_IMAGE_ENV)
    monkeypatch.setenv("HARNESS_PROMETHEUS", "off")
    name, reason = docker_prometheus.image(FakeClient(FakeImages({"harness/prometheus:latest": {}})))
    assert name is None and reason == "Prometheus is turned off (HARNESS_PROMETHEUS=off)"
