"""Drift detection, pure: River detectors on the error stream, and window
statistics on features and predictions.

Feature windows are compact histograms, ``{bucket: count}``, that any number
of processes can add to. Numbers fall in scale-free logarithmic buckets (each
about 5% wide, as in DDSketch), so no bin edges need learning and windows
from different processes merge by addition. Categories are their own bucket.

>>> reference = histogram([{"x": float(i % 50)} for i in range(2000)])["x"]
>>> shifted = histogram([{"x": float(i % 50) + 25} for i in range(2000)])["x"]
>>> compare(reference, reference, "psi").value
0.0
>>> compare(reference, shifted, "psi").drifted(0.2)
True
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from river import drift as river_drift
from river.drift import binary
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwobign

from app import _drift
from app.model import Features
from app.settings import DetectorName

DETECTORS: dict[str, Callable[[], Any]] = {
    "adwin": river_drift.ADWIN,
    "page-hinkley": river_drift.PageHinkley,
    "kswin": lambda: river_drift.KSWIN(seed=42),
    "ddm": binary.DDM,
    "eddm": binary.EDDM,
    "hddm-a": binary.HDDMA,
    "hddm-w": binary.HDDMW,
    "fhddm": binary.FHDDM,
}

Statistic = Literal["psi", "ks", "chi2", "js"]
NUMERIC_STATISTICS = {"psi", "ks"}
CATEGORY = "c:"
OTHER = "other"
"""Where a window's categories beyond its cap are counted."""

_GAMMA = 1.05 / 0.95  # relative accuracy 2.5%: a bucket is about 5% wide
_LOG_GAMMA = math.log(_GAMMA)
_TINY = 1e-12
_GROUPS = 10
_EPSILON = 1e-4


class ErrorDrift:
    """A River detector fed with the served prediction's loss: 0/1 for
    classifiers, absolute error for regressors."""

    def __init__(self, name: DetectorName) -> None:
        self.name = name
        self.detector = DETECTORS[name]()
        self.seen = 0
        self.since = 0
        """Labels seen when the current regime began (the last detection)."""

    def update(self, loss: float) -> tuple[int, int] | None:
        """The window ``(first, last)`` label count of a detected drift, if any."""
        self.detector.update(loss)
        self.seen += 1
        if not self.detector.drift_detected:
            return None
        window = (self.since, self.seen)
        self.since = self.seen
        return window


def bucket(value: float | bool | str) -> str:
    """A value's histogram bucket: ``z`` (zero), ``p<k>``/``n<k>`` (positive,
    negative, logarithmic), or ``c:<category>``."""
    if isinstance(value, str):
        return CATEGORY + value[:64]
    if isinstance(value, bool):
        return CATEGORY + ("true" if value else "false")
    magnitude = abs(value)
    if magnitude < _TINY:
        return "z"
    k = math.ceil(math.log(magnitude) / _LOG_GAMMA)
    return f"{'p' if value > 0 else 'n'}{k}"


def bucket_value(name: str) -> float:
    """Where a numeric bucket lies on the line (its upper bound)."""
    if name == "z":
        return 0.0
    bound = _GAMMA ** int(name[1:])
    return bound if name[0] == "p" else -bound


def window_of(at: float, width: float) -> int:
    """The drift window of event time ``at`` (seconds since the epoch):
    windows of ``width`` seconds from the epoch on.

    >>> window_of(125.0, 60.0), window_of(120.0, 60.0)
    (2, 2)
    """
    return math.floor(at / width)


def histogram(rows: Iterable[Features]) -> dict[str, Counter[str]]:
    """Per feature, the count of each bucket in ``rows`` (absent and null
    skipped): ``bucket`` of each value, counted in C (``app/_drift.c``; per
    value, Python's ``bucket`` costs more than scoring the event)."""
    rows = rows if isinstance(rows, list) else list(rows)
    counts: dict[str, Counter[str]] = _drift.histogram(
        rows, Counter, bucket, CATEGORY, _TINY, _LOG_GAMMA
    )
    return counts


def is_numeric(hist: Mapping[str, int]) -> bool:
    return not any(k.startswith(CATEGORY) or k == OTHER for k in hist)


@dataclass(frozen=True, slots=True)
class Comparison:
    statistic: Statistic
    value: float
    reference_count: int
    current_count: int

    def drifted(self, threshold: float) -> bool:
        """Distances (psi, js) drift above the threshold; tests (ks, chi2)
        below it, as a p-value."""
        if self.statistic in ("ks", "chi2"):
            return self.value < threshold
        return self.value > threshold


def compare(
    reference: Mapping[str, int], current: Mapping[str, int], statistic: Statistic
) -> Comparison:
    """How far ``current`` is from ``reference``."""
    n, m = sum(reference.values()), sum(current.values())
    if statistic in NUMERIC_STATISTICS:
        edges = _equal_mass_edges(reference)
        r, c = _grouped(reference, edges), _grouped(current, edges)
        value = _psi(r, c) if statistic == "psi" else _ks_pvalue(r, c)
    else:
        keys = sorted(set(reference) | set(current))
        r = [float(reference.get(k, 0)) for k in keys]
        c = [float(current.get(k, 0)) for k in keys]
        value = _chi2_pvalue(r, c) if statistic == "chi2" else _js(r, c)
    return Comparison(statistic, value, n, m)


def _equal_mass_edges(reference: Mapping[str, int]) -> list[float]:
    """Up to ``_GROUPS - 1`` bucket bounds that split the reference into
    groups of about equal mass."""
    ordered = sorted(reference.items(), key=lambda kv: bucket_value(kv[0]))
    total = sum(reference.values())
    edges: list[float] = []
    running, target = 0, total / _GROUPS
    for name, count in ordered[:-1]:
        running += count
        if running >= target * (len(edges) + 1):
            edges.append(bucket_value(name))
    return edges


def _grouped(hist: Mapping[str, int], edges: list[float]) -> list[float]:
    counts = [0.0] * (len(edges) + 1)
    for name, count in hist.items():
        value = bucket_value(name)
        group = next((i for i, edge in enumerate(edges) if value <= edge), len(edges))
        counts[group] += count
    return counts


def _proportions(counts: list[float]) -> list[float]:
    total = sum(counts) or 1.0
    return [max(c / total, _EPSILON) for c in counts]


def _psi(reference: list[float], current: list[float]) -> float:
    """Population stability index: under 0.1 stable, over 0.25 a real shift."""
    r, c = _proportions(reference), _proportions(current)
    return round(sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True)), 12)


def _ks_pvalue(reference: list[float], current: list[float]) -> float:
    """Two-sample Kolmogorov-Smirnov on the grouped counts (conservative)."""
    n, m = sum(reference), sum(current)
    if not n or not m:
        return 1.0
    d = fr = fc = 0.0
    for r, c in zip(reference, current, strict=True):
        fr, fc = fr + r / n, fc + c / m
        d = max(d, abs(fr - fc))
    return float(kstwobign.sf(d * math.sqrt(n * m / (n + m))))


def _chi2_pvalue(reference: list[float], current: list[float]) -> float:
    table = [[r, c] for r, c in zip(reference, current, strict=True) if r or c]
    if len(table) < 2 or not sum(reference) or not sum(current):
        return 1.0
    return float(chi2_contingency(list(zip(*table, strict=True)))[1])


def _js(reference: list[float], current: list[float]) -> float:
    """Jensen-Shannon distance, base 2: 0 identical, 1 disjoint."""
    if not sum(reference) or not sum(current):
        return 0.0
    return float(jensenshannon(reference, current, base=2))


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """One subject's window compared with its reference."""

    reference: Mapping[str, int]
    """The reference to keep: the same; the current window when there was
    none; or none after a drift, so that the next full window, past the
    change, becomes the new normal and one shift raises one alarm."""
    comparison: Comparison | None
    drifted: bool


def check_window(
    reference: Mapping[str, int] | None,
    current: Mapping[str, int],
    *,
    numeric: Statistic,
    categorical: Statistic,
    thresholds: Mapping[str, float],
    min_count: int,
) -> WindowCheck:
    """The reference policy: the first window with ``min_count`` values becomes
    the reference; windows with fewer are not judged; a drift clears the
    reference (the drifted window may straddle the change), so the next full
    window becomes the new one."""
    if sum(current.values()) < min_count:
        return WindowCheck(reference or {}, None, False)
    if not reference or sum(reference.values()) < min_count:
        return WindowCheck(dict(current), None, False)
    statistic = numeric if is_numeric(reference) and is_numeric(current) else categorical
    comparison = compare(reference, current, statistic)
    drifted = comparison.drifted(thresholds[statistic])
    return WindowCheck({} if drifted else reference, comparison, drifted)
