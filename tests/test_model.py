from __future__ import annotations

import numbers
import pickle
import random

import pytest
from river import compose, datasets, linear_model, preprocessing

from app import catalog
from app.errors import ModelError
from app.model import OnlineModel
from app.settings import ModelName


def test_regressor_refuses_classes_and_classifier_refuses_fractions() -> None:
    reg = OnlineModel("linear-regression", catalog.build("linear-regression"))
    clf = OnlineModel("hoeffding-tree", catalog.build("hoeffding-tree"))
    assert reg.kind == "regressor" and clf.kind == "classifier"
    assert reg.accepts(2.5) and reg.accepts(3) and not reg.accepts(True) and not reg.accepts("a")
    assert clf.accepts(True) and clf.accepts("spam") and clf.accepts(2) and not clf.accepts(0.5)


def test_snapshot_round_trip_predicts_identically() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for x, y in datasets.Phishing().take(200):
        model.learn(x, y)
    copy = OnlineModel.loads(model.dumps())
    for x, _ in datasets.Phishing().take(50):
        assert copy.predict(x) == model.predict(x)


def test_untrained_tree_makes_no_prediction() -> None:
    model = OnlineModel("hoeffding-tree", catalog.build("hoeffding-tree"))
    prediction = model.predict({"x": 1.0})
    assert prediction.label is None and prediction.probabilities == ()


def test_model_failures_are_model_errors() -> None:
    model = OnlineModel("linear-regression", catalog.build("linear-regression"))
    with pytest.raises(ModelError):
        model.learn({"x": 1.0}, "not a number")


@pytest.mark.parametrize(
    ("name", "final"),
    [
        ("logistic-regression", linear_model.LogisticRegression),
        ("linear-regression", lambda: linear_model.LinearRegression(intercept_lr=0.1)),
    ],
)
def test_mixed_features_encode_exactly_as_rivers_documented_union(name, final) -> None:  # type: ignore[no-untyped-def]
    """The catalog encodes numbers and strings in one pass for speed; on every
    kind of feature value it must learn and predict bit for bit as River's
    documented ``SelectType(numbers.Number)`` / ``SelectType(str)`` union."""
    reference = (
        (compose.SelectType(numbers.Number) | preprocessing.StandardScaler())
        + (compose.SelectType(str) | preprocessing.OneHotEncoder())
    ) | final()
    ours = catalog.build(name)
    rng = random.Random(3)
    for _ in range(500):
        f, b = rng.gauss(0, 1), rng.random() < 0.5
        x: dict[str, float | bool | str] = {"f": f, "b": b, "c": rng.choice(("red", "blue"))}
        if rng.random() < 0.2:
            x["late"] = rng.choice(("new", "old"))  # a feature that comes and goes
        # Same keys, values and order (the order of a linear model's sum).
        assert list(ours.transform_one(x).items()) == list(reference.transform_one(x).items())
        if name == "logistic-regression":
            assert ours.predict_proba_one(x) == reference.predict_proba_one(x)
            y: float | bool = f + (0.5 if b else 0) > 0.2
        else:
            assert ours.predict_one(x) == reference.predict_one(x)
            y = 2 * f + (0.5 if b else 0)
        ours.learn_one(x, y)
        reference.learn_one(x, y)


@pytest.mark.parametrize("name", ["logistic-regression", "linear-regression", "hoeffding-tree"])
def test_scoring_never_seen_names_does_not_grow_the_model(name: ModelName) -> None:
    # River's StandardScaler stored every name it was asked to scale: 2,000
    # events with a new name each grew a served model by 37 KB, for good.
    model = OnlineModel(name, catalog.build(name))
    for i in range(200):
        y = float(i % 5) if name == "linear-regression" else i % 3 == 0
        model.learn({"x": float(i % 7), "c": "ab"[i % 2]}, y)
    before = pickle.dumps(model.pipeline)
    known = model.predict({"x": 1.0, "c": "a"})
    for i in range(2000):
        assert model.predict({"x": 1.0, "c": "a", f"new{i}": 2.0}) == known
    assert pickle.dumps(model.pipeline) == before
