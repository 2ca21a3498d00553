"""What ``app.runtime.internals`` relies on in faust-streaming, mode and
aiokafka, pinned to the versions it was written against. An upgrade that
moves any of it fails here, loudly, before it changes delivery quietly:
re-read the module against the new versions, then update these pins."""

from __future__ import annotations

import gc
import hashlib
import inspect
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import faust
import mode
import pytest
from aiokafka.cluster import ClusterMetadata
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from app.runtime import internals
from app.settings import Settings
from app.streams import create_app

PINNED = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}

# Forked whole: ``BatchConsumer._drain_messages`` is Faust's loop with the
# hand-off of batch topics changed. If Faust's own changes, so must the fork.
UPSTREAM_SOURCES = {
    faust_consumer.Consumer._drain_messages: (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    ),
    # ``settle`` waits with it, bounded; its loop must still end once every
    # tracked message is acknowledged.
    # ``BatchConsumer._fetch`` is its loop, a partition at a time.
    faust_consumer.Consumer.getmany: (
        "4b168d84882a70d6e3e2f9804430a63b92f8fd117d3187cbb4aeb54305bda34e"
    ),
    faust_consumer.Consumer.wait_empty: (
        "e4662fe24f094819add590b2d75f233840e77823b432aea6504539768572102f"
    ),
    # ``settle`` does its steps (stop the flow, wait, commit) before this
    # runs, with ``stream_wait_empty`` off so that it does not wait again.
    faust.App._on_partitions_revoked: (
        "d5c895bbe57dc73ae4d7f762f6fdc9fdd3abd02f9e05863ccfd8034082e5682f"
    ),
}

# Private (or undocumented) attributes read or written by the module.
ATTRIBUTES: list[tuple[Any, str]] = [
    (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"),
    (faust_aiokafka.AIOKafkaConsumerThread, "_ensure_consumer"),
    (faust_aiokafka.AIOKafkaConsumerThread, "call_thread"),
    (faust_aiokafka.Consumer, "_new_consumer_thread"),
    (faust_aiokafka.Consumer, "_drain_messages"),
    (faust_aiokafka.Consumer, "_add_gap"),
    (faust_aiokafka.Consumer, "consumer_stopped_errors"),
    (faust_aiokafka.Consumer, "_wait_next_records"),
    (faust_aiokafka.Consumer, "_to_message"),
    (faust_aiokafka.Consumer, "perform_seek"),
    (faust_aiokafka.Consumer, "highwater"),
    (faust_aiokafka.Consumer, "flow_active"),
    (faust_consumer.Consumer, "_buffered_partitions"),
    (faust_consumer.Consumer, "_unacked_messages"),
    (faust_aiokafka.Consumer, "wait_first"),
    (faust_aiokafka.Transport, "Consumer"),
    (faust_aiokafka.Transport, "Producer"),
    (faust_aiokafka.Producer, "_new_producer"),
    (faust_aiokafka.Producer, "_ensure_producer"),
    (faust.App, "_new_transport"),
    (faust.App, "_consumer"),
    (faust.App, "consumer_generation_id"),
    (faust.Channel, "queue"),
    (faust.App, "rebalancing"),
    (faust_aiokafka.Consumer, "unacked"),
    (faust_aiokafka.AIOKafkaConsumerThread, "shutdown_timeout"),
    (ClusterMetadata, "partitions_for_topic"),
    (ClusterMetadata, "available_partitions_for_topic"),
]

# Methods the module overrides, with the parameters it overrides them with.
OVERRIDES = {
    faust_aiokafka.Consumer.subscribe: ["self", "topics"],
    faust_aiokafka.Consumer.on_partitions_revoked: ["self", "revoked"],
    faust_aiokafka.Consumer.on_partitions_assigned: ["self", "assigned", "generation_id"],
    faust_aiokafka.Consumer._drain_messages: ["self", "fetcher"],
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer: ["self", "transport"],
    faust.App.on_stop: ["self"],
    faust_aiokafka.Producer.on_start: ["self"],
    faust_aiokafka.Producer.on_stop: ["self"],
    faust.Channel.clone: ["self", "is_iterator", "kwargs"],
    faust.Channel.put: ["self", "value"],
}


def test_the_installed_versions_are_the_ones_pinned_and_verified() -> None:
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    pins = dict(d.split("==", 1) for d in pyproject["project"]["dependencies"] if "==" in d)
    for package, version in PINNED.items():
        assert metadata.version(package) == version, f"{package}: re-verify app.runtime.internals"
        # mode-streaming comes with faust-streaming, unpinned in pyproject.toml.
        assert pins.get(package, version).split()[0] == version


@pytest.mark.parametrize("function", list(UPSTREAM_SOURCES), ids=lambda f: f.__qualname__)
def test_forked_upstream_code_is_unchanged(function: Any) -> None:
    digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    assert digest == UPSTREAM_SOURCES[function], f"{function.__qualname__} changed upstream"


@pytest.mark.parametrize(("owner", "name"), ATTRIBUTES, ids=lambda v: getattr(v, "__name__", v))
def test_every_private_attribute_relied_on_exists(owner: Any, name: str) -> None:
    assert hasattr(owner, name) or name in getattr(owner, "__annotations__", {})


@pytest.mark.parametrize("method", list(OVERRIDES), ids=lambda f: f.__qualname__)
def test_every_overridden_method_keeps_its_parameters(method: Any) -> None:
    assert list(inspect.signature(method).parameters) == OVERRIDES[method]


def test_a_service_runs_its_own_stop_hook_before_stopping_its_children() -> None:
    # ``BatchApp.on_stop`` settles in-flight work while the agents still run.
    source = inspect.getsource(mode.Service.stop)
    assert source.index("self.on_stop()") < source.index("self._stop_children()")


async def test_a_stopping_thread_is_waited_for_at_most_its_shutdown_timeout() -> None:
    # The consumer thread's bound comes from ``shutdown_timeout`` (60 s by
    # default): with the broker gone, aiokafka's leaving waits that long.
    source = inspect.getsource(mode.Service.stop)
    assert "self._shutdown.wait(), self.shutdown_timeout" in source
    assert faust_aiokafka.AIOKafkaConsumerThread.wait_for_shutdown is True
    app = create_app(Settings(stop_timeout_seconds=4))
    thread = app.consumer._thread
    try:
        assert thread.shutdown_timeout == 4
    finally:
        thread.thread_loop.close()  # made with the (never started) thread


async def test_the_aiokafka_consumer_gets_the_worker_settings() -> None:
    # Faust would fix the fetch wait at 1.5 s (long enough for a fetch of
    # idle partitions to hold back the busy ones) and refresh metadata every
    # 300 s (a topic the consumer did not see waits that long to be assigned).
    app = create_app(Settings(kafka_fetch_max_wait_seconds=0.035, kafka_metadata_max_age_seconds=3))
    assert app.conf.stream_wait_empty is False  # ``settle`` waits, with a bound
    assert isinstance(app.consumer, internals.BatchConsumer)
    for name in ("_read_offset", "_commit_every", "_n_acked", "_unacked_messages", "_stopped"):
        assert hasattr(app.consumer, name), name
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 35
        assert consumer._client._metadata_max_age_ms == 3000
    finally:
        await consumer.stop()
        thread.thread_loop.close()  # made with the (never started) thread


async def test_the_start_up_heap_is_frozen_once_the_worker_has_started() -> None:
    # Full collections would otherwise walk every object of the imports and
    # start-up, pausing the event loop tens of milliseconds at a time.
    app = create_app(Settings())
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        for task in app._app_tasks:  # what Faust runs once the app has started
            await task()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
