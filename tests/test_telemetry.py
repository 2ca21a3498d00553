"""What happened, into the metrics."""

from __future__ import annotations

from collections import Counter

from app import catalog, metrics, telemetry
from app.learner import Learned, LearnerState, Outcome
from app.model import OnlineModel


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_what_a_batch_learned_is_counted() -> None:
    state = LearnerState.fresh(
        OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    )
    learned = Learned(
        outcomes=Counter({Outcome.JOINED: 3, Outcome.OVERFLOW: 2}), dropped_features=7
    )
    before = (
        sample("eddy_features_dropped_total"),
        sample("eddy_label_outcomes_total", {"outcome": "overflow"}),
    )
    telemetry.record_learned(learned, state)
    assert sample("eddy_features_dropped_total") == before[0] + 7
    assert sample("eddy_label_outcomes_total", {"outcome": "overflow"}) == before[1] + 2
