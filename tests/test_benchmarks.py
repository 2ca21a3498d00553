"""The learning micro-benchmark runs and times what it names (it raises if
its learner did not join and learn every label)."""

from __future__ import annotations

import math

from benchmarks.learning import measure


def test_learning_benchmark_times_every_piece_of_a_full_learn() -> None:
    rows = dict(measure(300, 1))
    whole = rows.pop("Learner.learn: all below, in order, per label")
    assert whole > 0 and math.isfinite(whole)
    assert len(rows) == 8 and all(v > 0 and math.isfinite(v) for v in rows.values())


def test_the_batch_benchmark_scores_every_line_both_ways() -> None:
    from benchmarks.http import batch_rates

    ours, theirs = batch_rates(2000, 1)
    assert len(ours) == len(theirs) == 1 and ours[0] > 0 and theirs[0] > 0
