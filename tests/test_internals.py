"""The worker's Kafka consumer, as configured from the settings (no broker)."""

from __future__ import annotations

import gc

from app.settings import Settings
from app.streams import create_app


async def test_the_fetch_wait_reaches_the_aiokafka_consumer() -> None:
    # Faust would fix it at 1.5 s: long enough for a fetch of idle partitions
    # to hold back the busy ones (see app.consumer.BatchConsumerThread).
    app = create_app(Settings(kafka_fetch_max_wait_seconds=0.035))
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 35
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
