"""The River pipelines the worker can serve, by name (``EDDY_MODEL``).

Every pipeline accepts numeric, boolean and string features: numbers are
standardised, strings one-hot encoded (the tree splits on them natively).
On purely numeric data the logistic regression behaves exactly as River's
``StandardScaler() | LogisticRegression()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from river import compose, linear_model, preprocessing, tree

from app.settings import ModelName


def _encode_mixed() -> Any:
    # Concrete types, not ``numbers.Number``: an isinstance check against an
    # abstract class costs more than the scaling itself. Feature values are
    # bool, float or str (``schemas.FeatureValue``); bool is an int.
    scaled = compose.SelectType(int, float) | preprocessing.StandardScaler()
    encoded = compose.SelectType(str) | preprocessing.OneHotEncoder()
    return scaled + encoded


def _logistic_regression() -> Any:
    return _encode_mixed() | linear_model.LogisticRegression()


def _hoeffding_tree() -> Any:
    return tree.HoeffdingTreeClassifier(grace_period=100)


def _linear_regression() -> Any:
    return _encode_mixed() | linear_model.LinearRegression(intercept_lr=0.1)


PIPELINES: dict[ModelName, Callable[[], Any]] = {
    "logistic-regression": _logistic_regression,
    "hoeffding-tree": _hoeffding_tree,
    "linear-regression": _linear_regression,
}


def build(name: ModelName) -> Any:
    """A fresh, untrained pipeline."""
    return PIPELINES[name]()
