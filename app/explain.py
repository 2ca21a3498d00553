"""Why the model said what it said: each feature's contribution to a linear
model's score, the path a tree took, and a plain description of the model.
Pure: the model in, plain data out.

For a linear model the contributions are River's own terms: the weight of
each transformed feature (scaled number, one-hot category) times its value,
in the order River sums them, so that, with every contribution kept, the
intercept plus their sum, in that order, is River's raw score to the last
bit (the logit of a logistic regression, the value of a linear regression).

>>> from app import catalog
>>> from app.model import OnlineModel
>>> model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
>>> for v in (1.0, 3.0, 2.0):
...     _ = model.learn({"x": v, "colour": "red" if v > 1 else "blue"}, v > 1)
>>> why = explain(model, {"x": 3.0, "colour": "red"}, top=None)
>>> list(why.contributions)
['colour_blue', 'colour_red', 'x']
>>> why.intercept + sum(why.contributions.values()) == why.score
True
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, cast

from river import compose, linear_model

from app.errors import ModelError
from app.model import Features, OnlineModel, Prediction, present

LINEAR = (linear_model.LogisticRegression, linear_model.LinearRegression)


@dataclass(frozen=True, slots=True)
class Explanation:
    intercept: float | None = None
    score: float | None = None
    """The linear model's raw score: intercept plus every contribution."""
    contributions: dict[str, float] | None = None
    """Per transformed feature; the largest in magnitude first when cut to
    the top k, else in River's order."""
    path: list[str] | None = None
    """A tree's decisions from the root to its leaf, as River prints them."""


def _split(pipeline: Any) -> tuple[list[Any], Any]:
    """The transformers before the last step, and the last step."""
    if isinstance(pipeline, compose.Pipeline):
        steps = list(pipeline.steps.values())
        return steps[:-1], steps[-1]
    return [], pipeline


def explain(model: OnlineModel, x: Features, top: int | None) -> Explanation | None:
    """The explanation of the model's prediction for ``x`` (the ``top``
    largest contributions, or all with None); None for a model that has
    neither weights nor a tree."""
    return _explained(model, x, top)[1]


def predict_explained(
    model: OnlineModel, x: Features, top: int | None
) -> tuple[Prediction, Explanation | None]:
    """``model.predict(x)`` and its explanation. A linear model's prediction
    is computed from the explanation's score, as River computes it from the
    same sum: the features are transformed once, not twice."""
    try:
        prediction, why = _explained(model, x, top)
    except Exception as exc:
        raise ModelError(f"{model.name} could not score the event: {exc!r}") from exc
    if prediction is None:
        prediction = model.predict(x)
    elif prediction.probabilities is None and not math.isfinite(cast(float, prediction.label)):
        raise ModelError(f"{model.name} predicted a non-finite value ({prediction.label})")
    return prediction, why


def _explained(
    model: OnlineModel, x: Features, top: int | None
) -> tuple[Prediction | None, Explanation | None]:
    transformers, last = _split(model.pipeline)
    features = present(x)
    for step in transformers:
        features = step.transform_one(features)
    if isinstance(last, LINEAR):
        weights = last._weights
        # River's ``_raw_dot_one`` sums in the features' order; a feature
        # with no weight yet contributes nothing (0.0 added changes no bit).
        terms = {
            name: weights[name] * value if name in weights else 0.0
            for name, value in features.items()
        }
        total = 0.0
        for term in terms.values():
            total += term
        score = float(total + last.intercept)
        if isinstance(last, linear_model.LogisticRegression):
            # River's ``predict_proba_one``, and the worker's tie-break.
            p = last.loss.mean_func(score)
            proba = {False: 1.0 - p, True: p}
            label = max(proba, key=proba.__getitem__)
            prediction = Prediction(label, tuple((k, float(v)) for k, v in proba.items()))
        else:
            prediction = Prediction(score)
        if top is not None and len(terms) > top:
            # A sort beats heapq.nlargest on a few dozen terms (8 µs against 12).
            terms = dict(sorted(terms.items(), key=lambda kv: -abs(kv[1]))[:top])
        return prediction, Explanation(float(last.intercept), score, terms)
    if hasattr(last, "debug_one"):
        text = last.debug_one(features)
        return None, Explanation(path=[] if text is None else text.strip().splitlines())
    return None, None


def describe(model: OnlineModel, top: int = 10) -> dict[str, Any]:
    """A plain description: the pipeline, its parameters, and its largest
    weights (linear models) or its size (trees)."""
    _, last = _split(model.pipeline)
    out: dict[str, Any] = {
        "name": model.name,
        "kind": model.kind,
        "pipeline": repr(model.pipeline),
        "parameters": _plain(model.pipeline._get_params()),
        "vocabulary": len(model.vocabulary),
    }
    if isinstance(last, LINEAR):
        weights = dict(last._weights.items()) if hasattr(last._weights, "items") else {}
        largest = heapq.nlargest(top, weights.items(), key=lambda kv: abs(kv[1]))
        out["intercept"] = float(last.intercept)
        out["weights"] = len(weights)
        out["top_weights"] = {str(k): float(v) for k, v in largest}
    elif hasattr(last, "n_nodes"):
        # River says None before the tree has its first node.
        out["tree"] = {
            "nodes": last.n_nodes or 0,
            "branches": last.n_branches or 0,
            "leaves": last.n_leaves or 0,
            "height": last.height,
        }
    return out


def _plain(value: Any) -> Any:
    """River's nested parameters as JSON: classes by name."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, type):
        return value.__name__
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
