"""EDDY_DRIFT_ACTION=reset on a learner and a scorer: the SEA concept flip
resets the model, as a version with its reason on the model-events topic,
and the scorer serves it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events, sea_drift
from tests.harness import Reader, Worker, as_records, eventually, free_port, produce, wait_assigned

pytestmark = pytest.mark.integration


async def test_a_concept_flip_resets_the_model_on_every_process(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(drift_action="reset")
    learner = spawn(settings)
    scorer = spawn(settings.model_copy(update={"role": "scorer", "web_port": free_port()}))
    await wait_assigned([learner, scorer], {settings.topic_features: 4, settings.topic_training: 1})
    n = 6000
    events = list(qa_events(sea_drift(n, seed=7), 100, "s"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=3000)

    async def learned_all() -> dict[str, object] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] == n else None

    await eventually(f"{n} labels learned", learned_all, 60)
    async with Reader(settings.kafka_bootstrap, settings.topic_model_events) as reader:
        resets = await reader.until("a reset", lambda v: len(v) >= 1, 10)
    assert all(e["action"] == "reset" and "warmed on the last" in e["reason"] for e in resets)
    newest = int(max(e["version"] for e in resets))
    versions = {v["version"]: v for v in await store.versions(settings.model)}
    assert versions[newest]["event"]["action"] == "reset"

    async def follows() -> bool:
        status = scorer.status() or {}
        return int(status.get("serving_version", -1)) >= newest

    await eventually("the scorer serves the reset model", follows, 5)
    metrics = learner.metrics()
    assert metrics[("eddy_model_events_total", (("action", "reset"),))] == len(resets)


async def test_a_concept_flip_starts_a_challenger_that_earns_promotion(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(drift_action="challenge", promotion_min_labels=200)
    learner = spawn(settings)
    scorer = spawn(settings.model_copy(update={"role": "scorer", "web_port": free_port()}))
    await wait_assigned([learner, scorer], {settings.topic_features: 4, settings.topic_training: 1})
    n = 6000
    events = list(qa_events(sea_drift(n, seed=7), 100, "s"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=3000)

    async def learned_all() -> dict[str, object] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] == n else None

    await eventually(f"{n} labels learned", learned_all, 60)
    async with Reader(settings.kafka_bootstrap, settings.topic_model_events) as reader:
        written = await reader.until(
            "a promotion", lambda v: any(e["action"] == "promote" for e in v), 10
        )
    # The drift starts challengers (each a version); none serves until the
    # sequential test promotes one.
    actions = [e["action"] for e in written]
    first_promotion = actions.index("promote")
    assert first_promotion >= 1 and set(actions[:first_promotion]) == {"challenge"}
    assert all("logistic-regression@drift" in e["reason"] for e in written)
    promoted = written[first_promotion]
    assert promoted["champion"] == "logistic-regression"
    versions = {v["version"]: v for v in await store.versions(settings.model)}
    for e in written:
        assert versions[int(e["version"])]["event"]["action"] == e["action"]

    async def follows() -> bool:
        status = scorer.status() or {}
        return int(status.get("serving_version", -1)) >= int(promoted["version"])

    await eventually("the scorer serves the promoted model", follows, 5)
    metrics = learner.metrics()
    assert metrics[("eddy_model_events_total", (("action", "challenge"),))] >= first_promotion
    assert metrics[("eddy_model_events_total", (("action", "promote"),))] >= 1
