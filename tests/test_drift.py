"""Drift detection on seeded streams with known drift points (no I/O)."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest

from app.calibration import SCENARIOS, Scenario, error_alarms, feature_alarms
from app.drift import Statistic, bucket, compare, histogram
from app.learner import loss
from app.model import Prediction

WINDOW = 1000
"""Events in a window: the calibration's default, 100 s at 10 events/s."""
PAIRS: list[tuple[Statistic, Statistic]] = [("psi", "js"), ("ks", "chi2")]


def scenario(name: str, drifted: bool) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name and (s.change_at is not None) == drifted)


def test_abrupt_feature_shift_is_found_within_two_windows() -> None:
    s = scenario("gaussian", drifted=True)  # x0's mean moves by half a standard deviation
    for numeric, categorical in PAIRS:
        delay, false = feature_alarms(s, 7, numeric, categorical).report(s.change_at)
        assert delay is not None and delay <= 2 * WINDOW, numeric
        assert false == 0


def test_category_frequency_change_is_found_within_two_windows() -> None:
    s = scenario("categorical", drifted=True)
    delay, false = feature_alarms(s, 7, "psi", "js").report(s.change_at)
    assert delay is not None and delay <= 2 * WINDOW and false == 0


def test_stationary_streams_of_20000_events_raise_no_feature_alarm() -> None:
    for name in ("gaussian", "categorical", "sea", "agrawal"):
        s = scenario(name, drifted=False)
        for numeric, categorical in PAIRS:
            assert feature_alarms(s, 7, numeric, categorical).at == [], (name, numeric)


def test_concept_drift_is_seen_by_errors_not_by_features() -> None:
    s = scenario("sea", drifted=True)  # SEA variant 0 to 3: same inputs, new concept
    assert feature_alarms(s, 7, "psi", "js").at == []
    delay, _ = error_alarms(s, 7)["adwin"].report(s.change_at)
    assert delay is not None and delay <= 500


def test_histograms_merge_by_addition() -> None:
    rng = random.Random(3)
    rows = [{"x": rng.gauss(0, 10), "c": rng.choice("ab"), "n": None} for _ in range(3000)]
    whole = histogram(rows)
    parts = [histogram(rows[i : i + 700]) for i in range(0, 3000, 700)]
    merged: dict[str, Counter[str]] = {}
    for part in parts:
        for subject, hist in part.items():
            merged.setdefault(subject, Counter()).update(hist)
    assert merged == whole and "n" not in whole


class Name(str):
    """A str subclass."""


def test_batch_histogram_counts_each_value_in_its_own_bucket() -> None:
    """The compiled histogram agrees with ``bucket`` value by value, across
    signs, zero, tiny and huge magnitudes, bools and categories."""
    rng = random.Random(5)
    rows: list[dict[str, float | bool | str | None]] = []
    for _ in range(5000):
        scale = 10 ** rng.uniform(-15, 300)
        rows.append(
            {
                "x": rng.gauss(0, 1) * scale,
                "z": rng.choice((0.0, -0.0, 1e-13, 1.0, -1.0)),
                "b": rng.random() < 0.3,
                "c": rng.choice(("a", "b", None)),
            }
        )

    def one_by_one(rows: list[dict[str, float | bool | str | None]]) -> dict[str, Counter[str]]:
        expected: dict[str, Counter[str]] = {}
        for row in rows:
            for name, value in row.items():
                if value is not None:
                    expected.setdefault(name, Counter())[bucket(value)] += 1
        return expected

    assert histogram(rows) == one_by_one(rows)
    assert histogram(rows[:10]) == one_by_one(rows[:10])
    # What the compiled histogram leaves to ``bucket`` (ints, a str
    # subclass), long categories cut, the extremes of a float.
    odd: list[dict[str, Any]] = [
        {"i": 3, "s": Name("x" * 70), "c": "é" * 80, "f": f}
        for f in (5e-324, 1e-12, -1e-12, 1.7976931348623157e308, -1e300, 1e-11)
    ]
    assert histogram(odd) == one_by_one(odd)
    assert histogram(odd)["c"] == Counter({"c:" + "é" * 64: 6})
    # What is not finite is refused as ``bucket`` refuses it.
    for bad in (math.inf, math.nan):
        with pytest.raises((ValueError, OverflowError)) as raised:
            bucket(bad)
        with pytest.raises(raised.type):
            histogram([{"x": 1.0}, {"x": bad}])


def test_batch_histogram_of_mixed_and_absent_features() -> None:
    """A feature that is a float in some events and a category or a flag in
    others, features absent from some events, and rows given as a generator:
    each value still in its own bucket, features never seen left out."""
    rng = random.Random(11)
    rows: list[dict[str, float | bool | str | None]] = []
    for i in range(400):
        row: dict[str, float | bool | str | None] = {"m": rng.choice((1.5, -2.0, "s", True))}
        if i % 3:
            row["sometimes"] = rng.gauss(0, 5)
        if i == 7:
            row["once"] = "only here"
        row["never"] = None
        rows.append(row)
    expected: dict[str, Counter[str]] = {}
    for row in rows:
        for name, value in row.items():
            if value is not None:
                expected.setdefault(name, Counter())[bucket(value)] += 1
    assert histogram(r for r in rows) == expected
    assert "never" not in expected and expected["once"] == Counter({"c:only here": 1})


def test_statistics_on_identical_and_disjoint_windows() -> None:
    same = histogram([{"c": "a"}, {"c": "b"}] * 500)["c"]
    other = histogram([{"c": "z"}] * 1000)["c"]
    assert compare(same, same, "js").value == 0.0
    assert compare(same, other, "js").value == 1.0
    assert compare(same, same, "chi2").value == 1.0
    assert compare(same, other, "chi2").value < 1e-9


def test_loss_is_01_for_classes_and_absolute_for_values() -> None:
    assert loss(True, Prediction(True, ((True, 0.9),))) == 0.0
    assert loss(False, Prediction(True, ((True, 0.9),))) == 1.0
    assert loss(3.0, Prediction(2.5)) == 0.5
    assert loss(True, Prediction(None, ())) == 1.0


def test_the_calibrations_windows_are_the_workers() -> None:
    # The calibration puts each event in the window the worker would (its
    # event time through app.drift.window_of): at 10 events/s, 100 s windows
    # hold 1,000 events, and half as long ones give alarms at other events.
    s = next(s for s in SCENARIOS if s.name == "gaussian" and s.change_at is not None)
    wide = feature_alarms(s, 7, "psi", "js", rate=10, width=100).at
    narrow = feature_alarms(s, 7, "psi", "js", rate=10, width=50, min_count=250).at
    assert wide and all(a % 1000 == 0 for a in wide)
    assert narrow and all(a % 500 == 0 for a in narrow) and narrow != wide
