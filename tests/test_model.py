from __future__ import annotations

import pytest
from river import datasets

from app import catalog
from app.errors import ModelError
from app.model import OnlineModel


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
