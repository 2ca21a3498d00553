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

from river import metrics

from app.model import Kind, Prediction
from schemas import Label


def _metrics(kind: Kind) -> dict[str, Any]:
    if kind == "classifier":
        return {
            "accuracy": metrics.Accuracy(),
            "roc_auc": metrics.ROCAUC(),
            "log_loss": metrics.LogLoss(),
            "f1": metrics.F1(),
        }
    return {"mae": metrics.MAE(), "rmse": metrics.RMSE(), "r2": metrics.R2()}


class Quality:
    """River metrics over the whole stream, fed with served predictions."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.metrics = _metrics(kind)
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

    def report(self) -> dict[str, float]:
        return {name: float(m.get()) for name, m in self.metrics.items()}
