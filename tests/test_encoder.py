"""The compiled encoder (``app/_encoder.c``) against the Python code it
replaces, bit for bit: every state it leaves, every output it makes, the
errors it raises, on every kind of value a caller can give it."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import pytest
from river import compose, datasets

from app import _encoder, catalog
from app.catalog import MixedEncoder
from app.errors import ModelError
from app.model import OnlineModel, Prediction, logistic_parts
from tests.reference import python_model


class Str(str):
    """A str subclass: left to the Python code."""


ODD: list[Any] = [
    0,
    -0.0,
    7,
    True,
    False,
    2**53 + 1,  # rounds on its way to a float
    10**400,  # too large for a float: Python fails, part-way
    1e308,
    -1e308,
    math.inf,
    math.nan,
    5e-324,
    None,
    "",
    "é",
    Str("sub"),
    [1],
]


def bits(value: Any) -> bytes:
    """Exact: pickle keeps a float's 8 bytes (NaN and -0.0 included) and a
    dict's order."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", bits(call(*args, **kwargs)))
    except Exception as exc:
        return ("error", type(exc))


def random_event(rng: random.Random, odd: bool) -> dict[str, Any]:
    x: dict[str, Any] = {}
    for name in rng.sample(["a", "b", "c", "d", "s", "t", "s_x"], rng.randint(0, 7)):
        if odd and rng.random() < 0.3:
            x[name] = rng.choice(ODD)
        elif name.startswith("s"):
            x[name] = rng.choice(("x", "y", "z"))
        else:
            x[name] = rng.choice((rng.gauss(0, 1e3), rng.randint(-5, 5), rng.random() < 0.5))
    return x


@pytest.mark.parametrize("odd", [False, True])
def test_learns_and_transforms_bit_for_bit_as_the_python_code(odd: bool) -> None:
    compiled, python = MixedEncoder(), MixedEncoder()
    rng = random.Random(7)
    fell_back = 0
    for _ in range(3000):
        x = random_event(rng, odd)
        for skip_none in (False, True):
            present = {k: v for k, v in x.items() if v is not None} if skip_none else x
            ours = outcome(compiled.transform, x, skip_none=skip_none)
            assert ours == outcome(python.transform_python, present)
        ours = outcome(compiled.learn_one, x)
        assert ours == outcome(python.learn_python, x)
        # The whole state: means, variances, counts, categories, key order.
        assert bits(compiled) == bits(python)
        fell_back += ours[0] == "error"
    # The stream did reach the values left to Python, and learned past them.
    assert (fell_back > 0) == odd
    assert len(compiled.scaler.counts) > 0 and len(compiled.onehot._zero_dict) > 0


def test_sigmoid_is_rivers() -> None:
    from river.utils.math import sigmoid

    for z in [-1e9, -30.5, -30, -29.9, -1, -0.0, 0.0, 1e-300, 3.7, 30, 30.1, math.inf, -math.inf]:
        assert bits(_encoder.logistic(z)) == bits(float(sigmoid(z)))
    assert math.isnan(_encoder.logistic(math.nan)) and math.isnan(sigmoid(math.nan))


def state(model: OnlineModel) -> list[bytes]:
    encoder, linear = model.pipeline.steps.values()
    return [bits(encoder.scaler), bits(encoder.onehot), bits(linear)]


def test_logistic_regression_predicts_and_learns_as_rivers_pipeline() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    assert logistic_parts(model.pipeline) is not None
    slow = python_model(model)
    for x, y in datasets.Phishing().take(400):
        x = {**x, "kind": "ab"[int(x["empty_server_form_handler"] * 2) % 2], "gone": None}
        prediction = model.predict(x)
        assert bits(prediction) == bits(slow.predict(x))
        assert isinstance(prediction.label, bool)
        model.learn(x, y)
        slow.learn(x, y)
        assert state(model) == state(slow)
    # Saturated: River's sigmoid gives the int 0 or 1, the model floats.
    far = {"kind": "a", "gone": None, **{k: 1e6 for k in x if k not in ("kind", "gone")}}
    assert bits(model.predict(far)) == bits(slow.predict(far))
    saturated = (((False, 1.0), (True, 0.0)), ((False, 0.0), (True, 1.0)))
    assert model.predict(far).probabilities in saturated


def test_the_shortcut_is_not_pickled_and_is_found_again() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    model.learn({"x": 1.0, "c": "a"}, True)
    assert "_logistic" not in model.__getstate__()
    copy = OnlineModel.loads(model.dumps())
    assert copy._logistic is not None and copy._logistic[0] is copy.pipeline.steps["MixedEncoder"]
    assert copy.predict({"x": 2.0, "c": "b"}) == model.predict({"x": 2.0, "c": "b"})


def test_other_pipelines_take_rivers_way() -> None:
    for name in ("linear-regression", "hoeffding-tree", "bandit-logistic-regression"):
        assert logistic_parts(catalog.build(name)) is None


def test_learning_during_prediction_takes_rivers_way() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    model.learn({"x": 1.0}, True)
    with compose.learn_during_predict():
        model.predict({"x": 5.0})  # River's way: the encoder learns x = 5
    assert model.pipeline.steps["MixedEncoder"].scaler.counts["x"] == 2


def test_a_value_the_model_cannot_take_is_a_model_error() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    model.learn({"x": 1.0}, True)
    model.learn({"x": 3.0}, False)
    with pytest.raises(ModelError):
        model.predict({"x": [1.0]})  # type: ignore[dict-item]
    assert isinstance(model.predict({"x": 2**70}), Prediction)
