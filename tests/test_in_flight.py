"""Batches in flight: acknowledged in order, never before their outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from app.runtime.inflight import InFlight


async def settle() -> None:
    """Let every ready task run (no wall-clock wait)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_batches_are_done_in_order_once_their_outputs_are_acknowledged() -> None:
    in_flight = InFlight(limit=4)
    loop = asyncio.get_running_loop()
    sent: list[asyncio.Future[str]] = [loop.create_future() for _ in range(2)]
    done: list[tuple[int, str]] = []

    async def third() -> str:
        return "c"

    def finish(i: int) -> Callable[[str], None]:
        return lambda result: done.append((i, result))

    for i, publishing in enumerate([*sent, third()]):
        await in_flight.add(publishing, finish(i))
    # The third batch's outputs are acknowledged first: it waits for the others.
    await settle()
    assert done == []
    sent[1].set_result("b")
    await settle()
    assert done == []
    sent[0].set_result("a")
    await settle()
    # Each batch is done with what its own publishing returned.
    assert done == [(0, "a"), (1, "b"), (2, "c")]


async def test_a_full_window_waits_and_a_failure_reaches_the_agent() -> None:
    in_flight = InFlight(limit=2)
    failing = asyncio.get_running_loop().create_future()
    done: list[int] = []
    await in_flight.add(failing, lambda _: done.append(0))
    adding = asyncio.ensure_future(in_flight.add(asyncio.sleep(0), lambda _: done.append(1)))
    await settle()
    assert not adding.done()  # two in flight: the agent waits for the oldest
    failing.set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await adding
    assert done == []  # nothing after a failed batch is acknowledged
