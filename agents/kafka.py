"""The two things every agent does with Kafka records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from app.intake import Message
from schemas import Source


def messages(events: Sequence[Any]) -> list[Message]:
    """Faust events as the core's plain ``Message``s."""
    out = []
    for event in events:
        m = event.message
        out.append(
            Message(
                key=m.key,
                value=m.value,
                source=Source(topic=m.topic, partition=m.partition, offset=m.offset),
                timestamp=m.timestamp,
            )
        )
    return out


async def publish(topic: Any, records: Iterable[tuple[str | None, BaseModel]]) -> None:
    """Send every record and wait until the broker has acknowledged all of them.

    ``force=True`` sends now instead of attaching to the current event: the
    caller acknowledges its input only after this returns, so offsets are
    never committed past an output the broker does not hold.
    """
    pending = [
        await topic.send(
            key=None if key is None else key.encode(),
            value=record.model_dump_json().encode(),
            force=True,
        )
        for key, record in records
    ]
    await asyncio.gather(*pending)


def ack_all(events: Iterable[Any]) -> None:
    for event in events:
        event.ack()
