"""The worker's Kafka consumer, as configured from the settings (no broker)."""

from __future__ import annotations

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
