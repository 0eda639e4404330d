"""The proof on a server nobody here wrote: Debian's nginx over two upstreams (examples/nginx-failover).

A sound configuration keeps every request answered while one backend is down and while the other
hangs (each hung request costs one proxy_read_timeout, no more); with ``proxy_next_upstream off``
the failed upstream's 502/504 reach the clients and the no-request-lost checks fail. About 30 s a run.
"""
from __future__ import annotations

import os
import shutil
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "examples/nginx-failover/failover.yaml"


@pytest.fixture(autouse=True)
def _nginx() -> None:
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)")


def test_nginx_fails_over_with_the_sound_configuration(run_experiment: Callable[..., Any]) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    hung = run.check("a-hung-upstream-costs-one-read-timeout")["evidence"]
    assert 1000 <= hung["value_ms"] <= 1300, run.explain()


def test_proxy_next_upstream_off_is_caught(run_experiment: Callable[..., Any]) -> None:
    run = run_experiment(EXPERIMENT, "next-upstream-off")
    assert run.code == 1, run.explain()
    assert {"no-request-lost-while-a-is-down", "no-request-lost-while-b-hangs"} <= run.failed, run.explain()
    statuses = {e["status"] for c in ("no-request-lost-while-a-is-down", "no-request-lost-while-b-hangs")
                for e in run.check(c)["evidence"]["examples"]}
    assert statuses <= {502, 504} and statuses, run.explain()
