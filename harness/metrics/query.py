"""Range queries against a Prometheus, through ``prometheus-api-client``.

Only this module talks to Prometheus's HTTP API. It hands back plain lists (JSON-friendly,
ready for the journal) and translates the client's errors into one ``QueryError`` whose
message says what Prometheus answered.
"""
from __future__ import annotations

import ast
import json
import math
from datetime import datetime, timezone
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

__all__ = ["QueryError", "query_range"]


class QueryError(Exception):
    """Prometheus could not be asked, or refused the query (e.g. a PromQL syntax error)."""


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def query_range(url: str, query: str, start: float, end: float, step: float,
                timeout: float = 10.0) -> list[dict[str, Any]]:
    """``[{"labels": {...}, "values": [[t, v], ...]}, ...]`` over ``[start, end]`` (epoch seconds).

    The client sends whole seconds, so the range is widened to whole seconds around the
    request; callers trim points to their exact window. Non-finite values (NaN from a
    division by zero, +Inf) are left out: they are "no number here", not a measurement.
    """
    # One quick retry only: the default (three, with back-off) would stall a teardown for
    # seconds when Prometheus is gone, and the check is unknown either way.
    retry = Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504))
    client = PrometheusConnect(url=url, retry=retry, timeout=timeout)
    try:
        raw = client.custom_query_range(query, start_time=_utc(math.floor(start)), end_time=_utc(math.ceil(end)),
                                        step=f"{step:g}")
    except PrometheusApiClientException as exc:
        raise QueryError(f"Prometheus refused the query: {_api_error(exc)}") from exc
    except requests.RequestException as exc:
        raise QueryError(f"Prometheus at {url} did not answer: {type(exc).__name__}: {exc}") from exc
    finally:
        client._session.close()  # close() exists only in newer clients; the session in every one
    out = []
    for item in raw:
        values = [[float(t), float(v)] for t, v in item.get("values", [])]
        out.append({"labels": dict(item.get("metric", {})),
                    "values": [p for p in values if math.isfinite(p[1])],
                    "dropped_non_finite": sum(1 for p in values if not math.isfinite(p[1]))})
    return out


def _api_error(exc: PrometheusApiClientException) -> str:
    """The ``error`` field of Prometheus's JSON answer (it names the parse error), else the message.

    The client's message is ``HTTP Status Code 400 (b'{...json...}')``: the body is a bytes repr.
    """
    text = str(exc)
    i = text.find("(b")
    if i >= 0 and text.endswith(")"):
        try:
            return str(json.loads(ast.literal_eval(text[i + 1:-1]))["error"])
        except (ValueError, SyntaxError, KeyError, TypeError):
            pass
    return text
