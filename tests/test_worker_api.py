"""POST /predict on a running worker: the same prediction as the stream's
for the same event and version, errors with the dead-letter reasons and no
state changed, and a learnable event's label learned from the labels topic."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from app.settings import Settings
from app.store import Store
from tests.harness import Reader, Worker, eventually, produce, wait_assigned

pytestmark = pytest.mark.integration

TOKEN = "not-a-real-secret"
CLIENT = "not-a-real-client-secret"


def call(worker: Worker, path: str, body: object, token: str | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.settings.web_port}{path}", data=data, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def event(i: int) -> dict[str, Any]:
    return {"event_id": f"h{i}", "features": {"x": float(i % 7), "c": "abc"[i % 3]}}


async def test_predict_answers_as_the_stream_and_a_learnable_event_is_learned(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(admin_token=TOKEN, client_token=CLIENT, snapshot_interval_seconds=60)
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})

    # The same event through the stream and over HTTP, same version: the
    # same prediction (the learner's interval is long: no new version).
    await produce(
        settings.kafka_bootstrap,
        [(settings.topic_features, "s1", json.dumps({**event(1), "event_id": "s1"}).encode())],
    )
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        streamed = (await reader.until("a prediction", lambda v: len(v) >= 1, 30))[0]
    status, answered = call(worker, "/predict", {**event(1), "event_id": "s1"})
    assert status == 200, answered
    for key in ("event_id", "model", "model_version", "prediction", "probabilities"):
        assert answered[key] == streamed[key], key

    status, many = call(worker, "/predict", [event(i) for i in range(5)])
    assert status == 200 and [p["event_id"] for p in many["predictions"]] == [
        f"h{i}" for i in range(5)
    ]

    # Bad requests: the dead-letter reasons, nothing stored.
    status, bad = call(worker, "/predict", [event(7), {"features": {"x": 1}}])
    assert status == 400 and bad["errors"] == [
        {"reason": "missing_event_id", "error": bad["errors"][0]["error"], "index": 1}
    ]
    assert call(worker, "/predict", b"{not json")[1]["errors"][0]["reason"] == "invalid_json"
    assert call(worker, "/predict", [])[0] == 400
    status, big = call(worker, "/predict", b" " * (1024**2 + 1))  # past aiohttp's limit
    assert status == 413 and big["errors"][0]["reason"] == "oversize_payload"
    assert await store.join([("h7", 1)], 60) == [None]  # the valid half was not kept

    # Learnable: only with the token (one is set); then its label is learned.
    assert call(worker, "/predict?learnable=true", event(8))[0] == 401
    status, kept = call(worker, "/predict?learnable=true", event(8), TOKEN)
    assert status == 200 and kept["event_id"] == "h8"
    label = {"event_id": "h8", "label": True}
    await produce(
        settings.kafka_bootstrap, [(settings.topic_labels, "h8", json.dumps(label).encode())]
    )

    async def learned() -> dict[str, Any] | None:
        status_ = worker.status() or {}
        learner = status_.get("learner") or {}
        return learner if learner.get("learned", 0) >= 1 else None

    state = await eventually("the HTTP event's label learned", learned, 30)
    assert state["outcomes"]["joined"] == 1

    # Explanations on request, whatever EDDY_EXPLAIN says (off here).
    status, why = call(worker, "/explain?top=2", event(9))
    assert status == 200 and why["event_id"] == "h9"
    explanation = why["explanation"]
    assert 0 < len(explanation["contributions"]) <= 2 and "score" in explanation
    assert call(worker, "/explain?top=0", event(9))[0] == 400
    document = worker.get("/openapi.json")
    assert document is not None and {"/predict", "/explain"} <= set(document["paths"])

    # POST /learn: the labels topic's path, answered with each outcome.
    assert call(worker, "/predict?learnable=true", [event(10), event(11)], CLIENT)[0] == 200
    labels = [{"event_id": "h10", "label": True}, {"event_id": "h11", "label": False}]
    assert call(worker, "/learn", labels)[0] == 401
    assert call(worker, "/model/freeze", {}, CLIENT)[0] == 401  # a client's token: learning only
    status, learned_ = call(worker, "/learn", labels, CLIENT)
    assert status == 200 and learned_["outcomes"] == [
        {"event_id": "h10", "outcome": "joined"},
        {"event_id": "h11", "outcome": "joined"},
    ]
    status, again = call(worker, "/learn", labels[0], TOKEN)
    assert status == 200 and again["outcomes"] == [{"event_id": "h10", "outcome": "duplicate"}]
    status, bad = call(worker, "/learn", [labels[1], {"label": True}], TOKEN)
    assert status == 400 and bad["errors"][0]["reason"] == "missing_event_id"
    assert bad["errors"][0]["index"] == 1
    # A label whose features were never stored waits for them: pending.
    status, waiting = call(worker, "/learn?wait=0.5", {"event_id": "nowhere", "label": 1}, TOKEN)
    assert status == 202 and waiting["outcomes"] == [{"event_id": "nowhere", "outcome": "pending"}]
    state = await eventually("the learned labels", learned, 1)  # h8 and the rest
    assert state["learned"] == 3 and state["outcomes"]["duplicate"] == 1
