"""Bootstrap confidence intervals for percentiles and error rates, at any number of requests.

The percentile bootstrap resamples the n observed values with replacement, takes the
statistic of each resample, and reads the interval off the 2.5th and 97.5th percentiles of
those B statistics. Done literally that costs O(B x n); at a million requests it is minutes.
For the two statistics we report it need not be done literally:

- a nearest-rank percentile at rank k of a resample is the k-th order statistic of n draws
  from the empirical distribution, i.e. ``sorted[ceil(n * U) - 1]`` where ``U`` is the k-th
  order statistic of n uniforms, which is ``Beta(k, n - k + 1)``; drawing B betas gives B
  bootstrap percentiles exactly (same distribution as resampling), in O(B);
- an error rate's resample count is ``Binomial(n, p_hat)``.

So every interval here is a true percentile bootstrap (B = 2000 by default), computed in
microseconds whatever n is. The generator is seeded from the run's seed, so a report
re-rendered from the same history shows the same intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .table import nearest_rank

B = 2000
LEVEL = 0.95

F8 = npt.NDArray[np.float64]


def rng_for(seed: int | None, *salt: str) -> np.random.Generator:
    """A generator seeded from the run's seed and a label (window, endpoint): stable intervals."""
    mix = [int(seed or 0) & 0xFFFFFFFF, *(sum(ord(c) * 31 ** i for i, c in enumerate(s)) & 0xFFFFFFFF for s in salt)]
    return np.random.default_rng(mix)


def percentile_samples(sorted_values: F8, q: float, rng: np.random.Generator, b: int = B) -> F8:
    """B bootstrap replicates of the nearest-rank percentile ``q`` of an ascending array."""
    n = len(sorted_values)
    k = max(1, math.ceil(q / 100.0 * n))
    u = rng.beta(k, n - k + 1, size=b)
    idx = np.clip(np.ceil(u * n).astype(np.int64), 1, n) - 1
    return sorted_values[idx]


def rate_samples(events: int, n: int, rng: np.random.Generator, b: int = B) -> F8:
    """B bootstrap replicates of a proportion ``events / n``."""
    return rng.binomial(n, events / n, size=b) / n


def interval(samples: F8, level: float = LEVEL) -> tuple[float, float]:
    a = (1.0 - level) / 2
    lo, hi = np.quantile(samples, [a, 1.0 - a])
    return float(lo), float(hi)


@dataclass
class Estimate:
    """A point estimate with its bootstrap interval (and the replicates, for comparisons)."""

    value: float
    low: float
    high: float
    samples: F8

    def to_dict(self, digits: int = 3) -> dict[str, float]:
        return {"value": round(self.value, digits), "low": round(self.low, digits), "high": round(self.high, digits)}


def percentile_estimate(sorted_values: F8, q: float, rng: np.random.Generator) -> Estimate:
    samples = percentile_samples(sorted_values, q, rng)
    lo, hi = interval(samples)
    return Estimate(nearest_rank(sorted_values, q), lo, hi, samples)


def rate_estimate(events: int, n: int, rng: np.random.Generator) -> Estimate:
    samples = rate_samples(events, n, rng)
    lo, hi = interval(samples)
    return Estimate(events / n, lo, hi, samples)
