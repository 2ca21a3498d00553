"""A batch that raises: tried again with backoff, then dead-lettered."""

from __future__ import annotations

import asyncio

import pytest

from app import metrics
from app.intake import Message
from app.runtime.guard import Failed, guarded
from app.settings import Settings

RECORDS = [
    Message(b"k1", b'{"a": 1}', "t-guard", 0, 5, 0.0),
    Message(None, b"\xff", "t-guard", 0, 6, 0.0),
]


def errors() -> float:
    return (
        metrics.REGISTRY.get_sample_value("eddy_processing_errors_total", {"topic": "t-guard"})
        or 0.0
    )


async def test_a_passing_failure_is_retried_and_nothing_is_dead_lettered() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("once in a while")
        return "done"

    before = errors()
    assert await guarded(flaky, RECORDS, Settings(processing_retries=2)) == "done"
    assert len(calls) == 3 and errors() == before + 2


async def test_a_lasting_failure_dead_letters_every_record_with_its_reason() -> None:
    calls: list[int] = []

    async def broken() -> str:
        calls.append(1)
        raise ZeroDivisionError("division by zero")

    failed = await guarded(broken, RECORDS, Settings(processing_retries=1))
    assert isinstance(failed, Failed) and len(calls) == 2
    assert [(d.reason.value, d.error, d.source.offset) for d in failed.letters] == [
        ("processing_error", "ZeroDivisionError: division by zero", 5),
        ("processing_error", "ZeroDivisionError: division by zero", 6),
    ]
    assert (
        failed.letters[0].payload == '{"a": 1}' and failed.letters[1].payload_encoding == "base64"
    )


async def test_cancellation_is_not_a_failure() -> None:
    async def cancelled() -> str:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await guarded(cancelled, RECORDS, Settings(processing_retries=3))
