"""An operator's controls on two running processes (a learner and a
scorer): ``eddy model`` and the HTTP API, each acting on every process
within a second, each a version with its reason on the model-events topic."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.harness import (
    Reader,
    Worker,
    as_records,
    eventually,
    free_port,
    produce,
    run_eddy,
    wait_assigned,
)
from tests.test_selection import linear_stream

pytestmark = pytest.mark.integration

TOKEN = "not-a-real-secret"


def run_eddy_model(settings: Settings, *args: str) -> tuple[int, list[dict[str, Any]]]:
    """``eddy model ARGS`` as an operator runs it: exit code, JSON lines."""
    done = run_eddy(settings, "model", *args)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def eddy_model(settings: Settings, *args: str) -> tuple[int, dict[str, Any]]:
    code, lines = run_eddy_model(settings, *args)
    return code, lines[-1]


def post(worker: Worker, path: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.settings.web_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


async def serving(worker: Worker, version: int, within: float = 1.0) -> float:
    """Seconds until ``worker`` serves ``version`` (or a newer one); fails
    past ``within``."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        status = worker.status() or {}
        if status.get("serving_version", -1) >= version:
            return time.monotonic() - began
        await asyncio.sleep(0.02)
    raise AssertionError(f"not serving version {version} within {within} s: {worker.status()}")


async def test_pin_freeze_and_rollback_reach_every_process_within_a_second(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(admin_token=TOKEN)
    learner = spawn(settings)
    scorer = spawn(settings.model_copy(update={"role": "scorer", "web_port": free_port()}))
    await wait_assigned([learner, scorer], {settings.topic_features: 4, settings.topic_training: 1})
    first = list(qa_events(datasets.Phishing(), 10, "a", limit=400))
    await produce(settings.kafka_bootstrap, as_records(first, settings), rate=1000)

    async def learned(n: int) -> dict[str, Any] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] + meta["outcomes"]["frozen"] >= n else None

    await eventually("400 labels learned", lambda: learned(400), 30)

    # Version 0, the untrained model, is kept (every 600th is): pin it.
    code, pinned = eddy_model(settings, "pin", "0")
    assert code == 0 and pinned["done"] and pinned["source_version"] == 0, pinned
    lag = await serving(scorer, pinned["version"])
    about = scorer.get("/model")
    assert about is not None and about["top_weights"] == {}  # the untrained model serves
    print(f"pin: the scorer served it {lag * 1000:.0f} ms after the command returned")

    # Not without the token; then unpin and freeze over HTTP.
    assert post(scorer, "/model/unpin", {}, None)[0] == 401
    assert post(scorer, "/model/unpin", {}, "wrong")[0] == 401
    status, unpinned = post(scorer, "/model/unpin", {}, TOKEN)
    assert status == 200 and unpinned["version"] == pinned["version"] + 1
    status, frozen = post(scorer, "/model/freeze", {}, TOKEN)
    assert status == 200 and frozen["action"] == "freeze"
    status, again = post(scorer, "/model/freeze", {}, TOKEN)
    assert status == 409 and again["error"] == "learning is frozen already"
    assert post(scorer, "/model/pin", {}, TOKEN)[0] == 400  # no version

    head = await store.head_meta(settings.model)
    assert head is not None
    before = head["learned"]
    more = list(qa_events(datasets.Phishing(), 10, "b", limit=200))
    await produce(settings.kafka_bootstrap, as_records(more, settings), rate=1000)
    meta = await eventually("200 labels joined while frozen", lambda: learned(600), 30)
    assert meta["learned"] == before and meta["outcomes"]["frozen"] >= 200
    # Quality by version: since the pin, only labels of events it scored.
    assert meta["since"] == pinned["version"]
    assert 200 <= meta["labels_scored_since"] < meta["labels_scored"]

    # Roll back to the version pinned a moment ago (an operator's version is kept).
    code, rolled = eddy_model(settings, "rollback", str(pinned["version"]))
    assert code == 0 and rolled["reason"].startswith("rolled back"), rolled
    await serving(scorer, rolled["version"])
    code, refused = eddy_model(settings, "rollback", "3")
    assert code == 1 and "not kept" in refused["error"]

    def by_version() -> set[str]:
        return {
            dict(labels)["since"]
            for name, labels in learner.metrics()
            if name == "eddy_version_quality"
        }

    async def rolled_series() -> bool:
        return by_version() == {str(rolled["version"])}

    # The rolled-back model's quality starts afresh: the pin's series goes.
    await eventually("quality exported by the new version", rolled_series, 2)

    code, rows = run_eddy_model(settings, "list", "--last", "3")
    assert code == 0
    assert rows[0]["version"] == 0 and rows[0]["loadable"]
    assert rows[-1]["version"] == rolled["version"] and rows[-1]["event"]["action"] == "rollback"

    async with Reader(settings.kafka_bootstrap, settings.topic_model_events) as reader:
        events = await reader.until("4 model events", lambda v: len(v) >= 4, 10)
    assert [e["action"] for e in events] == ["pin", "unpin", "freeze", "rollback"]
    assert all(e["reason"] and e["model"] == settings.model for e in events)


async def test_a_challenger_that_earns_it_is_promoted_on_every_process_and_back_by_hand(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(
        model="hoeffding-tree",
        challengers="logistic-regression",
        promotion_min_labels=300,
        admin_token=TOKEN,
    )
    learner = spawn(settings)
    scorer = spawn(settings.model_copy(update={"role": "scorer", "web_port": free_port()}))
    await wait_assigned([learner, scorer], {settings.topic_features: 4, settings.topic_training: 1})
    events = list(qa_events(linear_stream(3000, seed=4), 10, "l"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=3000)

    async with Reader(settings.kafka_bootstrap, settings.topic_model_events) as reader:
        [promoted] = await reader.until("a promotion", lambda v: len(v) >= 1, 60)
    assert promoted["action"] == "promote" and promoted["champion"] == "logistic-regression"
    assert promoted["reason"].startswith("logistic-regression beat hoeffding-tree")

    async def scorer_serves_it() -> bool:
        about = scorer.get("/model") or {}
        return bool(about.get("name") == "logistic-regression")

    await eventually("the scorer serves the new champion", scorer_serves_it, 5)
    status = learner.status()
    assert status is not None and status["learner"]["challengers"]["hoeffding-tree"]
    # Both processes scored the challenger in shadow where they scored the
    # champion (the scorer with the challenger it loaded with each version).
    shadowed = ("eddy_shadow_predictions_total", (("model", "logistic-regression"),))
    assert scorer.metrics().get(shadowed, 0) > 0 and learner.metrics().get(shadowed, 0) > 0

    status_code, back = post(scorer, "/model/promote", {"challenger": "hoeffding-tree"}, TOKEN)
    assert status_code == 200 and back["champion"] == "hoeffding-tree", back
    assert "by hand" in back["reason"]
    status_code, refused = post(scorer, "/model/promote", {"challenger": "nope"}, TOKEN)
    assert status_code == 409 and "no challenger nope" in refused["error"]
    await serving(scorer, back["version"])
