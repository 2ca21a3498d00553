"""A long list written again at every snapshot, pickled a block at a time so
that blocks unchanged since the last snapshot are not pickled again.

The learner's waiting list holds up to tens of thousands of labels and is
written with every snapshot (ten a second by default), while between two
snapshots only its ends move: labels leave the front as they are retried,
and come back, or new ones come, at the back. Each block remembers the
items it was made from; a block is reused only if the list holds exactly
those items (by equality) at that place, so the output is the same
whatever changed in between, only cheaper when little did.

>>> blocks = Blocks(size=2)
>>> rows = [(1, "a"), (2, "b"), (3, "c")]
>>> loads_rows(blocks.dump(rows, tuple)) == rows
True
>>> del rows[0]
>>> loads_rows(blocks.dump(rows + [(4, "d")], tuple))
[(2, 'b'), (3, 'c'), (4, 'd')]
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Generic, TypeVar

from app import pickles

T = TypeVar("T")

BLOCK = 1024
"""Items a block holds at most. A snapshot pickles again at most the block
the front has eaten into, the blocks that changed, and what came at the
back: about 2 ``BLOCK`` rows, not the whole list."""


@dataclass(frozen=True, slots=True)
class Block(Generic[T]):
    items: list[T]
    """What the block was made from (kept, so that it can be compared)."""
    blob: bytes
    """Their rows, pickled as one list."""


class Blocks(Generic[T]):
    """Pickled blocks of a list, reused from one ``dump`` to the next."""

    def __init__(self, size: int = BLOCK) -> None:
        self.size = size
        self._by_first: dict[int, Block[T]] = {}
        """The last dump's full blocks, by the ``id`` of their first item
        (alive: the block holds it, so no other object has that id)."""

    def dump(self, items: list[T], row: Callable[[T], Any]) -> list[bytes]:
        """``items`` as pickled blocks of ``row(item)``: ``loads_rows`` gives
        the rows back, in order."""
        size, cached = self.size, self._by_first
        kept: dict[int, Block[T]] = {}
        out: list[bytes] = []
        n, pos = len(items), 0
        while pos < n:
            block = cached.get(id(items[pos]))
            end = pos + size
            if block is not None and end <= n and items[pos:end] == block.items:
                out.append(block.blob)
                kept[id(items[pos])] = block
                pos = end
                continue
            # A new block, up to where a cached one may start again.
            end = pos + 1
            while end < n and end - pos < size and id(items[end]) not in cached:
                end += 1
            part = items[pos:end]  # a copy: the block keeps it as it is now
            blob = pickle.dumps([row(item) for item in part], pickle.HIGHEST_PROTOCOL)
            if len(part) == size:
                kept[id(part[0])] = Block(part, blob)
            out.append(blob)
            pos = end
        self._by_first = kept
        return out


def loads_rows(blobs: Sequence[bytes]) -> list[Any]:
    """The rows of ``Blocks.dump``'s blocks, in order (through the
    snapshots' restricted unpickler: a block is part of a snapshot)."""
    return list(chain.from_iterable(pickles.loads(blob) for blob in blobs))
