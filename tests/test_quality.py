"""Live quality: the rolling window, computed when read, equals River's own
rolling metrics updated label by label."""

from __future__ import annotations

import pickle
import random

import pytest
from river import metrics, utils

from app.model import Prediction
from app.quality import CLASSIFIER_METRICS, REGRESSOR_METRICS, Quality


def river_rolling(kind: str, window: int) -> dict[str, object]:
    """The window as the worker used to keep it: River's wrappers, updated
    and reverted label by label."""
    chosen = CLASSIFIER_METRICS if kind == "classifier" else REGRESSOR_METRICS
    return {
        name: metrics.RollingROCAUC(window_size=window)
        if cls is metrics.ROCAUC
        else utils.Rolling(cls, window_size=window)
        for name, cls in chosen.items()
    }


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_the_rolling_window_equals_rivers_rolling_metrics(kind: str) -> None:
    rng = random.Random(11)
    window = 300
    quality = Quality(kind, window)  # type: ignore[arg-type]
    reference = river_rolling(kind, window)
    for i in range(2_000):
        if kind == "classifier":
            p = rng.random()
            y: bool | float = rng.random() < p
            served = Prediction(p > 0.5, ((False, 1 - p), (True, p)))
        else:
            y = rng.gauss(0, 1)
            served = Prediction(y + rng.gauss(0, 0.5))
        quality.update(y, served)
        for m in reference.values():
            by_label = getattr(m, "requires_labels", True)  # regression metrics: always
            m.update(y, served.label if by_label else served.proba_dict())  # type: ignore[attr-defined]
        if i % 499 == 0 or i == 1_999:
            got = quality.report("rolling")
            for name, m in reference.items():
                assert got[name] == pytest.approx(m.get(), abs=1e-9), (i, name)  # type: ignore[attr-defined]


def test_the_rolling_window_follows_every_new_label() -> None:
    quality = Quality("classifier", 2)
    quality.update(True, Prediction(True, ((False, 0.1), (True, 0.9))))
    assert quality.report("rolling")["accuracy"] == 1.0
    quality.update(True, Prediction(False, ((False, 0.9), (True, 0.1))))
    assert quality.report("rolling")["accuracy"] == 0.5
    quality.update(True, Prediction(False, ((False, 0.9), (True, 0.1))))
    assert quality.report("rolling")["accuracy"] == 0.0
    assert quality.report()["accuracy"] == pytest.approx(1 / 3)


def test_a_snapshot_from_before_the_lazy_window_still_loads() -> None:
    # The state as pickled when both windows were River metric objects.
    old = Quality.__new__(Quality)
    whole = {name: cls() for name, cls in CLASSIFIER_METRICS.items()}
    rolling = river_rolling("classifier", 50)
    whole["accuracy"].update(True, True)
    rolling["accuracy"].update(True, True)  # type: ignore[attr-defined]
    old.__dict__.update(
        kind="classifier",
        metrics={
            **{(name, "all"): m for name, m in whole.items()},
            **{(name, "rolling"): m for name, m in rolling.items()},
        },
        count=1,
    )
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.count == 1
    assert loaded.report()["accuracy"] == 1.0
    assert loaded.window == 50
    assert loaded.report("rolling")["accuracy"] == 0.0  # the window starts again
    loaded.update(False, Prediction(True, ((False, 0.3), (True, 0.7))))
    assert loaded.report()["accuracy"] == 0.5
    assert loaded.report("rolling")["accuracy"] == 0.0
    assert len(loaded.recent) == 1
