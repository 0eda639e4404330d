"""Renders a Prometheus configuration that scrapes a deployed system.

Shared by every runtime (a local ``prometheus`` process, a Prometheus container) and by the
generated docker-compose.yml, so the scrape setup cannot drift between them.
"""
from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class ScrapeTarget:
    job: str  # the service name, or "toxiproxy"
    address: str  # host:port as Prometheus reaches it
    metrics_path: str = "/metrics"


def render_config(targets: list[ScrapeTarget], scrape_interval: float = 1.0) -> str:
    """A prometheus.yml: one job per target, a short interval (experiments last seconds)."""
    interval = f"{max(scrape_interval, 0.1):g}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": t.job, "metrics_path": t.metrics_path, "static_configs": [{"targets": [t.address]}]}
            for t in targets
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
