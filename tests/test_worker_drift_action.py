"""EDDY_DRIFT_ACTION on a learner and a scorer: with ``reset`` the SEA
concept flip resets the model, as a version with its reason on the
model-events topic, and the scorer serves it; with ``challenge`` it starts
a challenger that serves only once promoted."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events, sea_drift
from tests.harness import Reader, Worker, as_records, eventually, free_port, produce, wait_assigned
from tests.test_worker_controls import TOKEN, post, serving

pytestmark = pytest.mark.integration

EVENTS = 6000


async def flip(
    settings: Settings, spawn: Callable[[Settings], Worker], store: Store
) -> tuple[Worker, Worker, dict[str, Any]]:
    """A learner and a scorer; SEA with its concept flip half-way, labels
    100 events late, until every label is learned: the workers and the
    newest version's metadata."""
    learner = spawn(settings)
    scorer = spawn(settings.model_copy(update={"role": "scorer", "web_port": free_port()}))
    await wait_assigned([learner, scorer], {settings.topic_features: 4, settings.topic_training: 1})
    events = list(qa_events(sea_drift(EVENTS, seed=7), 100, "s"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=3000)

    async def learned_all() -> dict[str, Any] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] == EVENTS else None

    return learner, scorer, await eventually(f"{EVENTS} labels learned", learned_all, 60)


async def test_a_concept_flip_resets_the_model_on_every_process(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(drift_action="reset")
    learner, scorer, _ = await flip(settings, spawn, store)
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


async def test_a_concept_flip_starts_a_challenger_that_serves_only_once_promoted(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    # Promotion by hand: whether the test promotes on its own within a
    # stream this short depends on where the detector fires (the pure tests
    # and python -m benchmarks.drift show the earned promotion).
    settings = make_settings(drift_action="challenge", promotion="manual", admin_token=TOKEN)
    learner, scorer, meta = await flip(settings, spawn, store)
    async with Reader(settings.kafka_bootstrap, settings.topic_model_events) as reader:
        started = await reader.until("a challenge", lambda v: len(v) >= 1, 10)
    # The drift starts challengers, each a version; none serves.
    assert {e["action"] for e in started} == {"challenge"}
    assert all("logistic-regression@drift" in e["reason"] for e in started)
    versions = {v["version"]: v for v in await store.versions(settings.model)}
    for e in started:
        assert versions[int(e["version"])]["event"]["action"] == "challenge"
    assert meta["challengers"]["logistic-regression@drift"]["learned"] > 0
    # The challenger scores in shadow from the version that started it:
    # the flip's events were all scored before the drift was detected, so
    # the stream goes on with the new concept until it has been compared.
    more = itertools.islice(sea_drift(2000, seed=8), 1000, None)  # the second concept
    await produce(settings.kafka_bootstrap, as_records(qa_events(more, 100, "m"), settings), 1000)

    async def compared() -> dict[str, Any] | None:
        head = await store.head_meta(settings.model) or {}
        challenger = head.get("challengers", {}).get("logistic-regression@drift") or {}
        return head if challenger.get("test", {}).get("compared", 0) > 0 else None

    meta = await eventually("the challenger compared on what it scored in shadow", compared, 30)
    assert meta["since"] == 0  # the champion still serves

    status, promoted = post(
        scorer, "/model/promote", {"challenger": "logistic-regression@drift"}, TOKEN
    )
    assert status == 200 and promoted["champion"] == "logistic-regression", promoted
    await serving(scorer, int(promoted["version"]))
    head = await store.head_meta(settings.model)
    assert head is not None and head["since"] == promoted["version"]
    assert "logistic-regression@drift" not in head["challengers"]
    # Counted once the learner's command loop has handed the event on,
    # just after the command's answer went out.
    promotions = ("eddy_model_events_total", (("action", "promote"),))

    async def counted() -> dict[Any, float] | None:
        metrics = learner.metrics()
        return metrics if promotions in metrics else None

    metrics = await eventually("the promotion counted", counted, 5)
    assert metrics[("eddy_model_events_total", (("action", "challenge"),))] >= len(started)
    assert metrics[promotions] == 1
