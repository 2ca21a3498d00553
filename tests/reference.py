"""What the compiled parts are checked and timed against: a model run by
River's own pipeline and the encoder's Python code."""

from __future__ import annotations

from app.model import OnlineModel


def python_model(model: OnlineModel) -> OnlineModel:
    """A copy of ``model`` that predicts through River's pipeline (not the
    logistic shortcut) and encodes with the Python code (not ``app/_encoder.c``)."""
    slow = OnlineModel.loads(model.dumps())
    slow._logistic = None
    encoder = slow.pipeline.steps["MixedEncoder"]
    encoder.transform_one = encoder.transform_python
    encoder.learn_one = encoder.learn_python
    return slow
