"""Explanations, against River's own computation."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from river import datasets

from app import catalog
from app.explain import describe, explain, predict_explained
from app.intake import Message
from app.model import Features, OnlineModel, present
from app.scoring import score_batch
from app.serving import ServedModel
from app.settings import ModelName, Settings
from schemas import PredictionEvent


def mixed(rng: random.Random) -> Features:
    x: Features = {f"n{j}": rng.gauss(0, 1) for j in range(rng.randint(1, 8))}
    x["c"] = rng.choice("abcdefg")
    x["flag"] = rng.random() < 0.5
    return x


def raw_score(model: OnlineModel, x: Features) -> float:
    """River's own: the pipeline's transformers, then ``_raw_dot_one``."""
    *transformers, linear = model.pipeline.steps.values()
    features = present(x)
    for step in transformers:
        features = step.transform_one(features)
    return float(linear._raw_dot_one(features))


@pytest.mark.parametrize("name", ["logistic-regression", "linear-regression"])
def test_every_contribution_sums_to_rivers_raw_score_to_the_last_bit(name: ModelName) -> None:
    rng = random.Random(3)
    model = OnlineModel(name, catalog.build(name))
    for i in range(2000):
        x = mixed(rng)
        why = explain(model, x, top=None)
        assert why is not None and why.contributions is not None and why.intercept is not None
        total = 0.0
        for value in why.contributions.values():
            total += value
        assert total + why.intercept == why.score == raw_score(model, x), i
        model.learn(x, rng.random() < 0.5 if name == "logistic-regression" else rng.gauss(0, 1))


def test_phishing_scores_are_rivers_to_the_last_bit() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for x, y in datasets.Phishing():
        why = explain(model, x, top=None)
        assert why is not None and why.score == raw_score(model, x)
        model.learn(x, y)


def test_top_k_keeps_the_largest_contributions_in_magnitude() -> None:
    rng = random.Random(5)
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for _ in range(500):
        x = mixed(rng)
        model.learn(x, x.get("n0", 0.0) > 0)  # type: ignore[operator]
    x = {f"n{j}": rng.gauss(0, 1) for j in range(8)}
    every = explain(model, x, top=None)
    top = explain(model, x, top=3)
    assert every is not None and top is not None and every.contributions and top.contributions
    largest = sorted(every.contributions.items(), key=lambda kv: -abs(kv[1]))[:3]
    assert list(top.contributions.items()) == largest
    assert top.score == every.score  # the score is the whole model's, not the top 3's


def test_a_tree_explains_itself_by_its_decision_path() -> None:
    model = OnlineModel("hoeffding-tree", catalog.build("hoeffding-tree"))
    assert explain(model, {"x": 1.0}, top=5) is not None
    for x, y in datasets.Phishing():
        model.learn(x, y)
    why = explain(model, x, top=5)
    assert why is not None and why.path is not None and why.contributions is None
    assert why.path == model.pipeline.debug_one(x).strip().splitlines()
    assert model.pipeline.n_branches >= 1 and " " in why.path[0]  # a split, then the leaf


def test_a_description_says_what_the_model_is_and_what_it_learned() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for x, y in datasets.Phishing():
        model.learn(x, y)
    about = describe(model, top=3)
    json.dumps(about)  # plain JSON
    assert about["kind"] == "classifier" and "LogisticRegression" in about["pipeline"]
    assert about["parameters"]["LogisticRegression"]["l2"] == 0.0
    weights = model.pipeline.steps["LogisticRegression"]._weights
    strongest = max(weights, key=lambda k: abs(weights[k]))
    assert next(iter(about["top_weights"])) == strongest and len(about["top_weights"]) == 3
    tree = OnlineModel("hoeffding-tree", catalog.build("hoeffding-tree"))
    assert describe(tree)["tree"] == {"nodes": 0, "branches": 0, "leaves": 0, "height": 0}
    for x, y in datasets.Phishing():
        tree.learn(x, y)
    grown = describe(tree)["tree"]
    assert grown["leaves"] == grown["branches"] + 1 >= 2


@pytest.mark.parametrize("mode", ["off", "top", "all"])
def test_predictions_carry_the_configured_explanation(mode: str) -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    rng = random.Random(9)
    for _ in range(200):
        x = mixed(rng)
        model.learn(x, bool(x["flag"]))
    x = mixed(rng)
    body = json.dumps({"event_id": "e", "features": x}).encode()
    settings = Settings(explain=mode, explain_top=2)
    batch = score_batch(
        [Message(b"e", body, "features", 0, 0, 0.0)],
        ServedModel(model, 3),
        settings,
        datetime.now(UTC),
    )
    (prediction,) = batch.predictions
    wire = PredictionEvent.model_validate_json(prediction.model_dump_json())
    if mode == "off":
        assert wire.explanation is None
        return
    assert wire.explanation is not None and wire.explanation.contributions is not None
    assert len(wire.explanation.contributions) == (2 if mode == "top" else len(x) + 6)
    assert wire.explanation.score == raw_score(model, x)


@pytest.mark.parametrize("name", ["logistic-regression", "linear-regression", "hoeffding-tree"])
def test_a_prediction_made_with_its_explanation_is_the_models_own(name: ModelName) -> None:
    rng = random.Random(11)
    model = OnlineModel(name, catalog.build(name))
    for _ in range(1500):
        x = mixed(rng)
        assert predict_explained(model, x, top=5)[0] == model.predict(x)
        label = bool(x["flag"]) if name != "linear-regression" else rng.gauss(0, 1)
        model.learn(x, label)
