"""Live prequential quality: each label is scored against the prediction that
was actually served for its event, before the model learns from it.

>>> from app.model import Prediction
>>> q = Quality("classifier")
>>> q.update(True, Prediction(True, ((False, 0.2), (True, 0.8))))
>>> q.update(False, Prediction(True, ((False, 0.4), (True, 0.6))))
>>> q.report()["accuracy"]
0.5
"""

from __future__ import annotations

from typing import Any

from river import metrics, utils

from app.model import Kind, Prediction
from schemas import Label

CLASSIFIER_METRICS: dict[str, Any] = {
    "accuracy": metrics.Accuracy,
    "roc_auc": metrics.ROCAUC,
    "log_loss": metrics.LogLoss,
    "f1": metrics.F1,
}
REGRESSOR_METRICS: dict[str, Any] = {"mae": metrics.MAE, "rmse": metrics.RMSE, "r2": metrics.R2}


def _metrics(kind: Kind, window: int) -> dict[tuple[str, str], Any]:
    chosen = CLASSIFIER_METRICS if kind == "classifier" else REGRESSOR_METRICS
    out: dict[tuple[str, str], Any] = {}
    for name, cls in chosen.items():
        out[name, "all"] = cls()
        # River's ROCAUC cannot revert; it has a rolling twin of its own.
        if cls is metrics.ROCAUC:
            out[name, "rolling"] = metrics.RollingROCAUC(window_size=window)
        else:
            out[name, "rolling"] = utils.Rolling(cls, window_size=window)
    return out


class Quality:
    """River metrics, over the whole stream and over the last ``window``
    labels, fed with served predictions."""

    def __init__(self, kind: Kind, window: int = 1000) -> None:
        self.kind = kind
        self.metrics = _metrics(kind, window)
        self.count = 0

    def update(self, y_true: Label, served: Prediction) -> None:
        if self.kind == "classifier":
            proba = served.proba_dict()
            # As River's progressive validation does: a model that knew no
            # class yet made no prediction to judge.
            if not proba:
                return
            for metric in self.metrics.values():
                metric.update(y_true, served.label if metric.requires_labels else proba)
        else:
            for metric in self.metrics.values():
                metric.update(y_true, served.label)
        self.count += 1

    def report(self, window: str = "all") -> dict[str, float]:
        """``{metric: value}`` over the whole stream (``all``) or the window
        (``rolling``)."""
        return {name: float(m.get()) for (name, w), m in self.metrics.items() if w == window}
