"""Live prequential quality: each label is scored against the prediction that
was actually served for its event, before the model learns from it.

Whole-stream metrics are updated label by label. The rolling window keeps
the last ``window`` labels and computes its metrics when asked: updating and
reverting River's rolling wrappers for every label cost more than all the
whole-stream metrics together, and the window is read a few times a second.

>>> from app.model import Prediction
>>> q = Quality("classifier")
>>> q.update(True, Prediction(True, ((False, 0.2), (True, 0.8))))
>>> q.update(False, Prediction(True, ((False, 0.4), (True, 0.6))))
>>> q.report()["accuracy"]
0.5
>>> q.report("rolling")["accuracy"]
0.5
"""

from __future__ import annotations

from collections import deque
from typing import Any

from river import metrics

from app.model import Kind, Prediction
from schemas import Label

CLASSIFIER_METRICS: dict[str, Any] = {
    "accuracy": metrics.Accuracy,
    "roc_auc": metrics.ROCAUC,
    "log_loss": metrics.LogLoss,
    "f1": metrics.F1,
}
REGRESSOR_METRICS: dict[str, Any] = {"mae": metrics.MAE, "rmse": metrics.RMSE, "r2": metrics.R2}

Scored = tuple[Label, Label | None, dict[Label, float] | None]
"""A label, the served prediction and its class probabilities."""


def _fresh(kind: Kind, window: int | None) -> dict[str, Any]:
    chosen = CLASSIFIER_METRICS if kind == "classifier" else REGRESSOR_METRICS
    # River's ROCAUC approximates the curve with a few thresholds; its
    # rolling twin is exact over its window: the window uses the twin.
    return {
        name: metrics.RollingROCAUC(window_size=window)
        if window is not None and cls is metrics.ROCAUC
        else cls()
        for name, cls in chosen.items()
    }


def _feed(metric: Any, scored: Scored) -> None:
    y_true, label, proba = scored
    metric.update(y_true, proba if proba is not None and not metric.requires_labels else label)


class Quality:
    """River metrics, over the whole stream and over the last ``window``
    labels, fed with served predictions."""

    def __init__(self, kind: Kind, window: int = 1000) -> None:
        self.kind = kind
        self.window = window
        self.metrics = _fresh(kind, None)
        self.recent: deque[Scored] = deque(maxlen=window)
        self.count = 0
        self._rolling: tuple[int, dict[str, float]] | None = None

    def update(self, y_true: Label, served: Prediction) -> None:
        proba = None
        if self.kind == "classifier":
            proba = served.proba_dict()
            # As River's progressive validation does: a model that knew no
            # class yet made no prediction to judge.
            if not proba:
                return
        scored = (y_true, served.label, proba)
        for metric in self.metrics.values():
            _feed(metric, scored)
        self.recent.append(scored)
        self.count += 1

    def report(self, window: str = "all") -> dict[str, float]:
        """``{metric: value}`` over the whole stream (``all``) or the last
        ``window`` labels (``rolling``)."""
        if window == "all":
            return {name: float(m.get()) for name, m in self.metrics.items()}
        if self._rolling is None or self._rolling[0] != self.count:
            rolling = _fresh(self.kind, self.window)
            for scored in self.recent:
                for metric in rolling.values():
                    _feed(metric, scored)
            self._rolling = (self.count, {name: float(m.get()) for name, m in rolling.items()})
        return dict(self._rolling[1])

    def __setstate__(self, state: dict[str, Any]) -> None:
        metrics_ = state["metrics"]
        if any(isinstance(key, tuple) for key in metrics_):
            # Written before the window was kept as labels: its whole-stream
            # metrics carry on, its window starts empty.
            window = next(m.window_size for (_, w), m in metrics_.items() if w == "rolling")
            state = {
                "kind": state["kind"],
                "window": window,
                "metrics": {name: m for (name, w), m in metrics_.items() if w == "all"},
                "recent": deque(maxlen=window),
                "count": state["count"],
            }
        state.setdefault("_rolling", None)
        self.__dict__.update(state)
