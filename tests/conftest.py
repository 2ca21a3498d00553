"""Shared fixtures. Integration tests use the real Redis and Kafka that
``scripts/stack.sh start`` runs; when they are absent the tests fail, never skip."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from app.settings import Settings
from app.signing import Signer
from app.store import Store
from tests.harness import SNAPSHOT_KEY, Worker, delete_topics, free_port

REDIS_URL = Settings().redis_url
KAFKA_BOOTSTRAP = Settings().kafka_bootstrap
CLUSTER_URL = os.environ.get("STACK_REDIS_CLUSTER_URL", "redis://127.0.0.1:6389")
"""The stack's Redis Cluster (three primaries): tests that must hold on
both kinds of Redis take ``redis_kind`` (see ``both_redis``)."""

both_redis = pytest.mark.parametrize("redis_kind", ["redis", "redis-cluster"], indirect=True)
"""Run a test on a single Redis and on the stack's Redis Cluster."""


RUNS: list[str] = []
"""Every test's own prefix (group, topics, Redis keys), this session."""


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", autouse=True)
def _delete_the_sessions_topics() -> Iterator[None]:
    """At the end, the topics this session's tests made go (when a broker
    answers: tests that need none make none)."""
    yield
    with contextlib.suppress(Exception):
        asyncio.run(delete_topics(KAFKA_BOOTSTRAP, [f"{run}-" for run in RUNS]))


@pytest.fixture
def redis_kind(request: pytest.FixtureRequest) -> str:
    """``redis`` (one server, the default) or ``redis-cluster``."""
    return str(getattr(request, "param", "redis"))


@pytest.fixture
def make_settings(redis_kind: str) -> Callable[..., Settings]:
    """Settings isolated from every other test: own group, topics, Redis keys
    (on the Redis Cluster, for a test run with ``both_redis``)."""
    run = unique("t")
    RUNS.append(run)
    cluster = redis_kind == "redis-cluster"

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_id": run,
            "redis_prefix": run,
            "topic_features": f"{run}-features",
            "topic_labels": f"{run}-labels",
            "topic_predictions": f"{run}-predictions",
            "topic_dead_letter": f"{run}-dead-letter",
            "topic_drift": f"{run}-drift",
            "topic_model_events": f"{run}-model-events",
            "data_dir": f"/tmp/{run}",
            "web_port": free_port(),
            "snapshot_key": SNAPSHOT_KEY,
            "snapshot_key_file": None,
            **({"redis_url": CLUSTER_URL, "redis_cluster": True} if cluster else {}),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def redis_up(redis_kind: str) -> None:
    """The Redis of the test's kind answers, or the test fails."""
    answers(redis_kind)


@pytest.fixture(scope="session")
def redis_server_up() -> None:
    """The single Redis server answers (for session fixtures)."""
    answers("redis")


def answers(redis_kind: str) -> None:
    url = CLUSTER_URL if redis_kind == "redis-cluster" else REDIS_URL
    try:
        client = sync_client(url, redis_kind == "redis-cluster")
        client.ping()
        client.close()
    except redis.RedisError as exc:
        pytest.fail(f"{redis_kind} is not answering at {url}: run scripts/stack.sh start ({exc})")


def sync_client(url: str, cluster: bool) -> redis.Redis | redis.RedisCluster:
    if cluster:
        return redis.RedisCluster.from_url(url, socket_connect_timeout=2)
    return redis.Redis.from_url(url, socket_connect_timeout=2)


@pytest.fixture
async def store(redis_up: None, make_settings: Callable[..., Settings]) -> AsyncIterator[Store]:
    settings = make_settings()
    s = Store.connect(
        settings.redis_url,
        settings.redis_prefix,
        2.0,
        settings.snapshot_history,
        signer=Signer.from_settings(settings),
        cluster=settings.redis_cluster,
    )
    yield s
    client = sync_client(settings.redis_url, settings.redis_cluster)
    keys = list(client.scan_iter(f"{settings.redis_prefix}:*", count=1000))
    for key in keys:  # one at a time: a cluster's keys are on several nodes
        client.delete(key)
    client.close()
    await s.close()


@pytest.fixture(scope="session")
def kafka_up() -> None:
    host, port = KAFKA_BOOTSTRAP.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        pytest.fail(
            f"Kafka is not answering at {KAFKA_BOOTSTRAP}: run scripts/stack.sh start ({exc})"
        )


@pytest.fixture
def spawn(kafka_up: None, redis_up: None, tmp_path: Path) -> Iterator[Callable[[Settings], Worker]]:
    """Start worker processes; all are stopped, and their logs shown, at the end."""
    workers: list[Worker] = []

    def start(settings: Settings) -> Worker:
        worker = Worker(settings, tmp_path).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        print(f"--- {worker.log_path.name}\n{worker.tail()}")


@dataclass(frozen=True)
class SecureStack:
    """What the stack serves beside its plaintext ports (scripts/stack.sh):
    Kafka's SASL_SSL listener and Redis' TLS port, with the stack's CA."""

    kafka_bootstrap: str
    kafka_user: str
    kafka_password: str
    redis_tls_port: int
    redis_password: str
    """Of the stack's Redis user ``eddy``, limited to the default prefix."""
    ca: Path


@pytest.fixture(scope="session")
def secure_stack(kafka_up: None, redis_server_up: None) -> SecureStack:
    root = Path(__file__).resolve().parent.parent
    state = Path(os.environ.get("STACK_DIR") or root / ".stack")
    kafka_port = int(KAFKA_BOOTSTRAP.split(",")[0].rsplit(":", 1)[1])
    redis_port = int(REDIS_URL.split("://", 1)[1].split("/")[0].rsplit(":", 1)[1])
    sasl_port = int(os.environ.get("STACK_KAFKA_SASL_PORT") or kafka_port + 2)
    tls_port = int(os.environ.get("STACK_REDIS_TLS_PORT") or redis_port + 1)
    ca, password = state / "tls" / "ca.pem", state / "tls" / "kafka.password"
    redis_password = state / "tls" / "redis.password"
    for needed in (ca, password, redis_password):
        if not needed.is_file():
            pytest.fail(f"no {needed}: run scripts/stack.sh start (STACK_DIR={state})")
    for port in (sasl_port, tls_port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            pytest.fail(f"nothing answers on 127.0.0.1:{port}: run scripts/stack.sh start ({exc})")
    return SecureStack(
        f"127.0.0.1:{sasl_port}",
        "eddy",
        password.read_text().strip(),
        tls_port,
        redis_password.read_text().strip(),
        ca,
    )
