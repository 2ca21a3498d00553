"""The worker's runtime: everything that knows Kafka, Faust or the event loop.

Import rules: ``app.runtime`` may import the core (``app``) and ``schemas``;
the core never imports ``app.runtime``. Of the runtime, only
``app.runtime.internals`` touches private parts of faust-streaming, mode or
aiokafka; ``topics`` and ``publish`` use aiokafka's public API; ``guard``,
``inflight`` and ``readiness`` are plain asyncio and logic.
"""
