"""Prometheus in a container beside a Docker run, scraping every service's metrics and Toxiproxy's.

Optional: a run without a Prometheus image goes on, and says why in the journal
(``prometheus_unavailable``), which PromQL checks quote. With one, ``prometheus_started``
carries the URL (on 127.0.0.1) they query. Its first scrape is awaited only when a check reads
metrics (``metrics_needed``). The configuration comes from the same ``render_config`` every
runtime uses, and is kept in the run folder.

    image: $HARNESS_PROMETHEUS_IMAGE ("none", or HARNESS_PROMETHEUS=off, turns it off), else prom/prometheus:v2.53.0 or
           harness/prometheus:latest (scripts/build-images.sh), whichever is there; else the
           public one is pulled
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import httpx

from ...metrics.prometheus_config import ScrapeTarget, render_config
from . import layout

if TYPE_CHECKING:
    from .deployment import DockerDeployment

PORT = 9090
SCRAPE_INTERVAL = 1.0
LOCAL_IMAGE = "harness/prometheus:latest"
NAME = "prometheus"


def image(client: Any) -> tuple[str | None, str]:
    """The image to run, or None and the reason there is none."""
    import docker

    switch = os.environ.get("HARNESS_PROMETHEUS", "")
    if switch.lower() in ("off", "none", "false", "0", "no"):  # the switch the local runtime reads too
        return None, f"Prometheus is turned off (HARNESS_PROMETHEUS={switch})"
    named = os.environ.get(layout.PROMETHEUS_IMAGE_ENV, "")
    if named.lower() == "none":
        return None, f"Prometheus is turned off (${layout.PROMETHEUS_IMAGE_ENV}=none)"
    candidates = [named] if named else [layout.PROMETHEUS_PUBLIC_IMAGE, LOCAL_IMAGE]
    for name in candidates:
        try:
            client.images.get(name)
            return name, ""
        except docker.errors.ImageNotFound:
            continue
    try:
        client.images.pull(candidates[0])
        return candidates[0], ""
    except docker.errors.DockerException as exc:
        return None, (f"no Prometheus image (none of {', '.join(candidates)}; pulling failed: "
                      f"{str(exc).splitlines()[0][:160]}); `make images` builds {LOCAL_IMAGE}")


def scrape_targets(dep: "DockerDeployment") -> list[ScrapeTarget]:
    """Addresses on the run's network: Prometheus scrapes from inside it."""
    targets = [ScrapeTarget(job="toxiproxy", address=f"{dep.addresses['toxiproxy']}:{layout.TOXIPROXY_API_PORT}")]
    for name, svc in dep.system.services.items():
        if svc.metrics:
            targets.append(ScrapeTarget(job=name, address=f"{dep.addresses[name]}:{layout.service_port(dep.system, name)}",
                                        metrics_path=svc.metrics))
    return targets


def launch(dep: "DockerDeployment") -> str | None:
    """Start the container (first: it initialises while Toxiproxy and the services start); the image, or None."""
    name, reason = image(dep.client)
    if name is None:
        dep.req.journal.write("prometheus_unavailable", reason=reason)
        return None
    targets = scrape_targets(dep)
    config = dep.req.run_dir / "prometheus.yml"
    config.write_text(render_config(targets, scrape_interval=SCRAPE_INTERVAL))
    dep.create_container(NAME, name, port=PORT, volumes={str(config): {"bind": "/etc/prometheus/prometheus.yml", "mode": "ro"}},
                # tmpfs, not the image's VOLUME: nothing unlabelled is left, and the series go with the container.
                tmpfs={"/prometheus": ""}, user="root",
                command=["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                         f"--web.listen-address=0.0.0.0:{PORT}"])
    dep.containers[NAME].start()
    dep.followers[NAME].follow()
    return name


def ready(dep: "DockerDeployment", name: str, timeout: float = 30.0) -> bool:
    """Once the services are up: Prometheus answers (it has had their start-up to get there); journal it."""
    journal = dep.req.journal
    targets = scrape_targets(dep)
    url = f"http://127.0.0.1:{dep.host_ports[NAME]}"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while True:
            try:
                if http.get(url + "/-/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                journal.write("prometheus_unavailable", reason=f"Prometheus ({name}) did not answer at {url} within "
                                                               f"{timeout:g}s; see logs/prometheus.log")
                dep.notice("Prometheus did not start; PromQL checks will be unknown (see logs/prometheus.log)")
                return False
            time.sleep(0.1)
    journal.write("prometheus_started", url=url, container=dep.containers[NAME].short_id, image=name,
                  scrape_interval=SCRAPE_INTERVAL, config=str(dep.req.run_dir / "prometheus.yml"),
                  targets=[{"job": t.job, "address": t.address, "metrics_path": t.metrics_path} for t in targets])
    return True


def wait_scraping(dep: "DockerDeployment", timeout: float = 15.0) -> None:
    """When a check reads metrics: wait until every target was scraped once (up or down), so load starts watched.

    Prometheus 2.x hands new targets to its scrapers on a 5 s tick: the first scrape comes
    about 5 s after it starts, however soon it is ready.
    """
    targets = scrape_targets(dep)
    began = time.monotonic()
    scraped = _scraped(f"http://127.0.0.1:{dep.host_ports[NAME]}", len(targets), began + timeout)
    dep.req.journal.write("prometheus_scraping", waited_s=round(time.monotonic() - began, 3), targets=len(targets),
                          targets_scraped=scraped)


def _scraped(url: str, expected: int, deadline: float) -> int:
    """How many targets were scraped, once all were (or when the deadline passes)."""
    seen = 0
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            try:
                result = http.get(url + "/api/v1/query", params={"query": "count(up)"}).json()["data"]["result"]
                seen = int(float(result[0]["value"][1])) if result else 0
                if seen >= expected:
                    break
            except (httpx.HTTPError, ValueError, KeyError, IndexError):
                pass
            time.sleep(0.2)
    return seen
