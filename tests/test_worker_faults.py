"""Faults a running worker routes around by itself, on the real broker and
Redis: a record that breaks learning, snapshots not signed by the deployment
or holding what no snapshot may, Redis emptied under it."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from app.settings import Settings
from app.signing import HEADER, Signer
from app.store import Store
from tests.conftest import REDIS_URL
from tests.harness import Reader, Worker, eventually, produce, run_eddy
from tests.test_snapshot_security import Exploit
from tests.test_worker_lifecycle import head_learned

pytestmark = pytest.mark.integration


def events(settings: Settings, ids: list[str]) -> list[tuple[str, str, bytes]]:
    return [
        (settings.topic_features, i, json.dumps({"event_id": i, "features": {"x": 1.0}}).encode())
        for i in ids
    ]


def labels(settings: Settings, ids: list[str]) -> list[tuple[str, str, bytes]]:
    return [
        (settings.topic_labels, i, json.dumps({"event_id": i, "label": True}).encode()) for i in ids
    ]


async def predicted(settings: Settings, ids: list[str]) -> None:
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        await reader.until(
            f"{len(ids)} predictions", lambda v: set(ids) <= {p["event_id"] for p in v}, 30
        )


async def test_a_label_that_breaks_learning_is_dead_lettered_and_the_rest_learned(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings()
    worker = spawn(settings)
    await worker.wait_ready()
    ids = [f"f{i}" for i in range(20)]
    await produce(settings.kafka_bootstrap, events(settings, ids))
    await predicted(settings, ids)
    # One stored record is corrupted in Redis: learning it raises.
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{settings.redis_prefix}:pending:f7", b'{"not": "a pending record"}')
    client.close()
    await produce(settings.kafka_bootstrap, labels(settings, ids))
    meta = await eventually("19 labels learned", lambda: head_learned(store, settings, 19), 30)
    assert meta["outcomes"] == {
        "joined": 19,
        "failed": 1,
        "duplicate": 0,
        "unknown": 0,
        "expired": 0,
        "invalid": 0,
        "overflow": 0,
        "frozen": 0,
        "unsampled": 0,
    }
    async with Reader(settings.kafka_bootstrap, settings.topic_dead_letter) as reader:
        [letter] = await reader.until("a dead letter", lambda v: len(v) >= 1, 30)
    assert letter["reason"] == "processing_error" and letter["error"].startswith("KeyError")
    assert letter["source"]["topic"] == settings.topic_training and letter["key"] == "f7"
    assert worker.alive()


async def test_snapshots_not_signed_by_the_deployment_are_refused_unread_and_nothing_runs(
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    store: Store,
    tmp_path: Path,
) -> None:
    settings = make_settings(role="scorer")
    scorer = spawn(settings)
    await produce(settings.kafka_bootstrap, events(settings, ["s0"]))
    await predicted(settings, ["s0"])
    marker = tmp_path / "ran"
    attack = pickle.dumps(Exploit(marker))  # runs `touch marker` wherever it is unpickled
    model = settings.model

    others: list[Store] = []

    def twin(signer: Signer) -> Store:  # another writer of the same keys
        others.append(Store.connect(REDIS_URL, settings.redis_prefix, 2.0, 10, signer=signer))
        return others[-1]

    async def tampered(version: int) -> None:
        """A version this deployment signed, its pickle swapped for the attack."""
        signed = store._signer.sign(f"{model}:model:{version}", pickle.dumps({"ok": 1}))
        as_is = twin(Signer(None, unsigned=True))  # writes the bytes it is given
        await as_is.save_snapshot(model, version - 1, version, b"", {}, signed[:HEADER] + attack)

    async def unsigned(version: int) -> None:
        await twin(Signer(None, unsigned=True)).save_snapshot(model, None, version, b"", {}, attack)

    async def unknown_key(version: int) -> None:
        stranger = twin(Signer(b"s" * 32))
        await stranger.save_snapshot(model, version - 1, version, b"", {}, attack)

    async def forbidden(version: int) -> None:  # signed with the deployment's own key
        await store.save_snapshot(model, version - 1, version, b"", {}, attack)

    attacks = [(unsigned, "unsigned"), (unknown_key, "unknown_key")]
    attacks += [(tampered, "bad_signature"), (forbidden, "forbidden")]
    for version, (write, reason) in enumerate(attacks, start=5):
        await write(version)

        async def refused(version: int = version, reason: str = reason) -> bool:
            return f"version {version} refused ({reason})" in scorer.tail(400)

        await eventually(f"version {version} refused ({reason})", refused, 30)
    for other in others:
        await other.close()
    assert not marker.exists()  # nothing the pickles carry ran
    log = scorer.log_path.read_text()
    assert str(marker) not in log and "touch" not in log  # refusals name, never show
    counted = scorer.metrics()
    for _, reason in attacks:
        key = ("eddy_snapshots_refused_total", (("model", model), ("reason", reason)))
        assert counted[key] == 1
    await produce(settings.kafka_bootstrap, events(settings, ["s1", "s2"]))
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        served = await reader.until("2 more predictions", lambda v: len(v) >= 3, 30)
    assert {p["model_version"] for p in served} == {0}  # the version in hand
    assert scorer.alive()


async def test_a_worker_without_a_snapshot_key_refuses_to_start(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(snapshot_key=None)
    refused = run_eddy(settings, "worker")
    assert refused.returncode == 2
    assert refused.stderr.startswith("eddy: no snapshot key: set EDDY_SNAPSHOT_KEY")
    assert "Traceback" not in refused.stderr


async def test_redis_emptied_under_a_running_learner_gets_the_model_back(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings()
    worker = spawn(settings)
    await worker.wait_ready()
    first = [f"r{i}" for i in range(300)]
    await produce(settings.kafka_bootstrap, events(settings, first))
    await predicted(settings, first)
    await produce(settings.kafka_bootstrap, labels(settings, first))
    before = await eventually("300 learned", lambda: head_learned(store, settings, 300), 30)
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.scan_iter(f"{settings.redis_prefix}:*", count=1000))
    client.close()

    async def written_back() -> dict[str, object] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["version"] > before["version"] else None

    meta = await eventually("the model written back", written_back, 30)
    assert meta["learned"] == 300  # the learned model, not an untrained one
    second = [f"q{i}" for i in range(200)]
    await produce(settings.kafka_bootstrap, events(settings, second))
    await predicted(settings, second)
    await produce(settings.kafka_bootstrap, labels(settings, second))
    await eventually("learning goes on", lambda: head_learned(store, settings, 500), 30)
    assert worker.alive()
    assert (worker.ready() or {}).get("ready")
