"""Shared fixtures. Integration tests use the real Redis and Kafka that
``scripts/stack.sh start`` runs; when they are absent the tests fail, never skip."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis

from app.settings import Settings
from app.store import Store

REDIS_URL = Settings().redis_url
KAFKA_BOOTSTRAP = Settings().kafka_bootstrap


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings isolated from every other test: own group, topics, Redis keys."""
    run = unique("t")

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_id": run,
            "redis_prefix": run,
            "topic_features": f"{run}-features",
            "topic_labels": f"{run}-labels",
            "topic_predictions": f"{run}-predictions",
            "topic_dead_letter": f"{run}-dead-letter",
            "data_dir": f"/tmp/{run}",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def redis_up() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering at {REDIS_URL}: run scripts/stack.sh start ({exc})")
    finally:
        client.close()


@pytest.fixture
async def store(redis_up: None, make_settings: Callable[..., Settings]) -> AsyncIterator[Store]:
    settings = make_settings()
    s = Store.connect(REDIS_URL, settings.redis_prefix, 2.0, settings.snapshot_history)
    yield s
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{settings.redis_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    await s.close()
