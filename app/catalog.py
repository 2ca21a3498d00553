"""The River pipelines the worker can serve, by name (``EDDY_MODEL``).

Every pipeline accepts numeric, boolean and string features: numbers are
standardised, strings one-hot encoded (the tree splits on them natively).
The linear models learn and predict exactly as River's documented
``(SelectType(Number) | StandardScaler()) + (SelectType(str) | OneHotEncoder())``;
on purely numeric data, exactly as ``StandardScaler() | LogisticRegression()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from river import (
    bandit,
    base,
    forest,
    linear_model,
    metrics,
    model_selection,
    optim,
    preprocessing,
    tree,
    utils,
)

from app import _encoder
from app.settings import ModelName


def present(x: dict[str, Any]) -> dict[str, Any]:
    """River's convention for a missing value is an absent key."""
    return {k: v for k, v in x.items() if v is not None}


class MixedEncoder(base.Transformer):  # type: ignore[misc]  # River has no type stubs
    """River's ``StandardScaler`` on numbers and ``OneHotEncoder`` on strings,
    with one pass over the features instead of a union of two selections.

    The union selects every feature four times per label learned (each
    branch's ``learn_one``, then each branch's ``transform_one``), and the
    selections cost as much as the scaling: measured on 20 numeric and 2
    string features, ``learn_one`` of the whole pipeline takes 23 µs instead
    of 34 and ``predict_proba_one`` 7 instead of 12, with the same output,
    key order included.

    >>> encoder = MixedEncoder()
    >>> encoder.learn_one({"x": 1.0, "colour": "red"})
    >>> encoder.learn_one({"x": 3.0, "colour": "blue"})
    >>> encoder.transform_one({"x": 3.0, "colour": "red"})
    {'colour_red': 1, 'colour_blue': 0, 'x': 1.0}
    """

    # Snapshots pickle this class by its module path: moving or renaming it
    # would make every snapshot written since unreadable.

    def __init__(self) -> None:
        self.scaler = preprocessing.StandardScaler()
        self.onehot = preprocessing.OneHotEncoder()

    @staticmethod
    def _split(x: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        numbers, strings = {}, {}
        for name, value in x.items():
            if isinstance(value, str):
                strings[name] = value
            else:
                numbers[name] = value
        return numbers, strings

    def learn_one(self, x: dict[str, Any]) -> None:
        scaler, onehot = self.scaler, self.onehot
        if (
            _encoder.learn(
                x, scaler.counts, scaler.means, scaler.vars, onehot.values, onehot._zero_dict
            )
            is NotImplemented
        ):
            self.learn_python(x)

    def transform_one(self, x: dict[str, Any]) -> dict[str, Any]:
        return self.transform(x, skip_none=False)

    def transform(self, x: dict[str, Any], *, skip_none: bool) -> dict[str, Any]:
        """``transform_one(x)``, or of ``present(x)`` with ``skip_none``."""
        out = _encoder.transform(
            x, self.scaler.means, self.scaler.vars, self.onehot._zero_dict, skip_none
        )
        if out is NotImplemented:
            return self.transform_python(present(x) if skip_none else x)
        return cast(dict[str, Any], out)

    # The Python code the compiled encoder (app/_encoder.c) does bit for bit:
    # it runs here on values the compiled one leaves to it (anything but
    # None, bool, int, float and str), and tests check one against the other.

    def learn_python(self, x: dict[str, Any]) -> None:
        numbers, strings = self._split(x)
        self.scaler.learn_one(numbers)
        self.onehot.learn_one(strings)

    def transform_python(self, x: dict[str, Any]) -> dict[str, Any]:
        numbers, strings = self._split(x)
        # The union's order: the last branch's keys first.
        out: dict[str, Any] = self.onehot.transform_one(strings)
        # River's ``StandardScaler.transform_one`` (unwindowed, with_std),
        # without its one side effect: reading ``vars`` through the
        # defaultdict stored every name it had never learned, so a stream of
        # new names grew every served model without bound (37 KB per 2,000
        # names). A name never learned scales to 0.0 there and here.
        means, vars_ = self.scaler.means, self.scaler.vars
        for name, value in numbers.items():
            v = vars_.get(name, 0.0)
            out[name] = (value - means[name]) / v**0.5 if v else 0.0
        return out


def _logistic_regression() -> Any:
    return MixedEncoder() | linear_model.LogisticRegression()


def _hoeffding_tree() -> Any:
    return tree.HoeffdingTreeClassifier(grace_period=100)


def _linear_regression() -> Any:
    return MixedEncoder() | linear_model.LinearRegression(intercept_lr=0.1)


def _hoeffding_adaptive_tree() -> Any:
    return tree.HoeffdingAdaptiveTreeClassifier(grace_period=100, seed=42)


def _adaptive_random_forest() -> Any:
    return forest.ARFClassifier(n_models=5, seed=42)


def _bandit() -> Any:
    """River's own example (``BanditClassifier``, on Phishing: Accuracy 88.96%)."""
    models = [
        linear_model.LogisticRegression(optimizer=optim.SGD(lr=lr))
        for lr in [0.0001, 0.001, 1e-05, 0.01]
    ]
    policy = bandit.EpsilonGreedy(epsilon=0.1, decay=0.001, burn_in=20, seed=42)
    return MixedEncoder() | model_selection.BanditClassifier(
        models, metric=metrics.Accuracy(), policy=policy
    )


def _successive_halving() -> Any:
    """River's own example (``SuccessiveHalvingClassifier``, on Phishing:
    ROC AUC 95.22%)."""
    grid = utils.expand_param_grid(
        _logistic_regression(),
        {
            "LogisticRegression": {
                "optimizer": [
                    (optim.SGD, {"lr": [0.1, 0.01, 0.005]}),
                    (optim.Adam, {"beta_1": [0.01, 0.001], "lr": [0.1, 0.01, 0.001]}),
                    (optim.Adam, {"beta_1": [0.1], "lr": [0.001]}),
                ]
            }
        },
    )
    return model_selection.SuccessiveHalvingClassifier(
        grid, metric=metrics.Accuracy(), budget=2000, eta=2
    )


PIPELINES: dict[ModelName, Callable[[], Any]] = {
    "logistic-regression": _logistic_regression,
    "hoeffding-tree": _hoeffding_tree,
    "linear-regression": _linear_regression,
    "hoeffding-adaptive-tree": _hoeffding_adaptive_tree,
    "adaptive-random-forest": _adaptive_random_forest,
    "bandit-logistic-regression": _bandit,
    "successive-halving-logistic-regression": _successive_halving,
}


def build(name: ModelName) -> Any:
    """A fresh, untrained pipeline."""
    return PIPELINES[name]()
