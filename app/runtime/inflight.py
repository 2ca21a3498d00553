"""Batches in flight: an agent goes on to its next fetch while earlier
batches' outputs travel to the broker, and acknowledges them in order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

R = TypeVar("R")

IN_FLIGHT = 4
"""Batches an agent handles while earlier ones wait for the broker."""


class InFlight:
    """Batches whose outputs are on their way to the broker.

    An agent hands over a batch's publishing and goes on to the next fetch
    instead of waiting a broker round trip per batch. Each batch's ``done``
    (acknowledging its input, given what the publishing returned) runs only
    once its own outputs are acknowledged *and* every earlier batch is done,
    so offsets are acknowledged in order
    and never past an output the broker does not hold. At most ``limit``
    batches are in flight; a failure is raised to the agent.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: deque[asyncio.Future[None]] = deque()

    async def add(self, publishing: Awaitable[R], done: Callable[[R], None]) -> None:
        previous = self._tasks[-1] if self._tasks else None
        task = asyncio.ensure_future(_deliver(publishing, previous, done))
        # A failure is raised once, to the agent; the batches after it fail
        # with it and are not acknowledged either.
        task.add_done_callback(_observed)
        self._tasks.append(task)
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft().result()
        if len(self._tasks) >= self._limit:
            await self._tasks[0]


def _observed(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


async def _deliver(
    publishing: Awaitable[R], previous: asyncio.Future[None] | None, done: Callable[[R], None]
) -> None:
    result = await publishing
    if previous is not None:
        await previous
    done(result)
