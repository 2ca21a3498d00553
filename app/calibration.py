"""``python -m app.calibration``: how the drift detectors fare on streams with
known drift points, and on streams without any.

Feature statistics run on the worker's own windows: each event is given an
event time (``--rate`` events a second from the epoch on) and counts in the
window ``app.drift.window_of`` gives it, ``--window-seconds`` long, judged
in order against the worker's reference policy (``check_window``); error
detectors run on the 0/1 errors of the default model learning online
(predict, then learn). Every stream is seeded.
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, get_args

from river.datasets import synth

from app import catalog
from app.drift import DETECTORS, ErrorDrift, Statistic, check_window, histogram, window_of
from app.model import OnlineModel
from app.settings import DetectorName

THRESHOLDS = {"psi": 0.2, "ks": 0.001, "chi2": 0.001, "js": 0.1}


@dataclass(frozen=True)
class Scenario:
    name: str
    change_at: int | None
    """Index of the first drifted event (None: stationary)."""
    kind: str
    """What drifts: feature, category, concept, or nothing."""
    n: int

    def stream(self, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
        return STREAMS[self.name](self, seed)


def _gaussian(s: Scenario, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    rng = random.Random(seed)
    for i in range(s.n):
        shift = 0.5 if s.change_at is not None and i >= s.change_at else 0.0
        x = {f"x{j}": rng.gauss(shift if j == 0 else 0.0, 1.0) for j in range(5)}
        yield x, x["x0"] + x["x1"] > 0


def _categorical(s: Scenario, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    rng = random.Random(seed)
    before, after = [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]
    for i in range(s.n):
        weights = after if s.change_at is not None and i >= s.change_at else before
        c = rng.choices("abcd", weights)[0]
        yield {"c": c, "x": rng.gauss(0, 1)}, c in "ab"


def _sea(s: Scenario, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    change = s.change_at if s.change_at is not None else s.n
    first = synth.SEA(variant=0, seed=seed).take(change)
    second = synth.SEA(variant=3, seed=seed + 1).take(s.n - change)
    for x, y in itertools.chain(first, second):
        yield {f"x{k}": v for k, v in x.items()}, y


def _agrawal(s: Scenario, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    change = s.change_at if s.change_at is not None else s.n
    first = synth.Agrawal(classification_function=0, seed=seed).take(change)
    second = synth.Agrawal(classification_function=2, seed=seed + 1).take(s.n - change)
    yield from itertools.chain(first, second)


STREAMS = {
    "gaussian": _gaussian,
    "categorical": _categorical,
    "sea": _sea,
    "agrawal": _agrawal,
}

SCENARIOS = [
    Scenario("gaussian", None, "nothing", 20_000),
    Scenario("gaussian", 10_000, "feature x0: mean +0.5 sd", 20_000),
    Scenario("categorical", None, "nothing", 20_000),
    Scenario("categorical", 10_000, "category frequencies", 20_000),
    Scenario("sea", None, "nothing", 20_000),
    Scenario("sea", 10_000, "concept (SEA 0 to 3)", 20_000),
    Scenario("agrawal", None, "nothing", 20_000),
    Scenario("agrawal", 10_000, "concept (Agrawal 0 to 2)", 20_000),
]


@dataclass
class Alarms:
    """Where a detector fired, in events."""

    at: list[int] = field(default_factory=list)

    def report(self, change_at: int | None) -> tuple[int | None, int]:
        """``(delay to the first alarm after the change, false alarms)``."""
        if change_at is None:
            return None, len(self.at)
        false = sum(1 for a in self.at if a < change_at)
        after = [a - change_at for a in self.at if a >= change_at]
        return (after[0] if after else None), false


def feature_alarms(
    scenario: Scenario,
    seed: int,
    numeric: Statistic,
    categorical: Statistic,
    rate: float = 10.0,
    width: float = 100.0,
    min_count: int = 500,
) -> Alarms:
    """Alarms of the feature statistics, at the index of the event that
    closes each drifted window."""
    alarms = Alarms()
    references: dict[str, dict[str, int]] = {}
    windows: dict[int, list[dict[str, Any]]] = {}
    ends: dict[int, int] = {}
    for i, (x, _) in enumerate(scenario.stream(seed)):
        window = window_of(i / rate, width)
        windows.setdefault(window, []).append(x)
        ends[window] = i + 1
    for window in sorted(windows)[:-1]:  # the last may be partial: still open
        for subject, current in histogram(windows[window]).items():
            check = check_window(
                references.get(subject),
                current,
                numeric=numeric,
                categorical=categorical,
                thresholds=THRESHOLDS,
                min_count=min_count,
            )
            references[subject] = dict(check.reference)
            if check.drifted:
                alarms.at.append(ends[window])
                break  # one alarm per window, whichever subjects drifted
    return alarms


def error_alarms(scenario: Scenario, seed: int) -> dict[str, Alarms]:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    detectors = {name: ErrorDrift(name) for name in get_args(DetectorName)}
    alarms = {name: Alarms() for name in DETECTORS}
    for i, (x, y) in enumerate(scenario.stream(seed)):
        error = float(model.predict(x).label != y)
        model.learn(x, y)
        for name, detector in detectors.items():
            if detector.update(error) is not None:
                alarms[name].at.append(i)
    return alarms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.calibration", description=__doc__)
    parser.add_argument("--rate", type=float, default=10.0, help="events a second")
    parser.add_argument(
        "--window-seconds", type=float, default=100.0, help="EDDY_DRIFT_WINDOW_SECONDS"
    )
    parser.add_argument("--min-events", type=int, default=500, help="EDDY_DRIFT_MIN_EVENTS")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(
        f"windows of {args.window_seconds:g} s at {args.rate:g} events/s "
        f"({args.window_seconds * args.rate:,.0f} events); delays and false alarms in events\n"
    )
    print("| stream | drift | detector | delay | false alarms |\n|---|---|---|---|---|")
    for s in SCENARIOS:
        pairs: list[tuple[Statistic, Statistic]] = [("psi", "js"), ("ks", "chi2")]
        results: dict[str, Alarms] = {
            f"{n}+{c}": feature_alarms(
                s, args.seed, n, c, args.rate, args.window_seconds, args.min_events
            )
            for n, c in pairs
        }
        results.update(error_alarms(s, args.seed))
        for name, alarms in results.items():
            delay, false = alarms.report(s.change_at)
            shown = "-" if s.change_at is None else ("missed" if delay is None else str(delay))
            print(f"| {s.name} | {s.kind} | {name} | {shown} | {false} |")


if __name__ == "__main__":
    main()
