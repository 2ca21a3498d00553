"""The waiting list's snapshot blocks: always the list's rows, in order,
whatever changed; and only what changed is pickled again."""

from __future__ import annotations

import pickle
import random
from dataclasses import dataclass

import pytest

from app.blocks import Blocks, loads_rows
from app.errors import BadSnapshot


@dataclass(frozen=True)
class Item:
    n: int


class Counted:
    """``row`` that counts its calls: how many rows a dump pickled."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, item: Item) -> tuple[int]:
        self.calls += 1
        return (item.n,)


def rows(items: list[Item]) -> list[tuple[int]]:
    return [(i.n,) for i in items]


def test_any_changes_give_the_lists_rows_in_order() -> None:
    rng = random.Random(7)
    blocks: Blocks[Item] = Blocks(size=8)
    items = [Item(i) for i in range(100)]
    fresh = 100
    for _ in range(300):
        change = rng.randrange(6)
        if change == 0 and items:  # off the front
            del items[: rng.randint(1, 20)]
        elif change == 1:  # at the back
            items += [Item(fresh + i) for i in range(rng.randint(1, 20))]
            fresh += 20
        elif change == 2 and items:  # anywhere
            del items[rng.randrange(len(items))]
        elif change == 3 and items:  # in the middle: not what the learner does
            items.insert(rng.randrange(len(items)), Item(fresh))
            fresh += 1
        elif change == 4 and items:  # an equal item for another one
            i = rng.randrange(len(items))
            items[i] = Item(items[i].n)
        elif change == 5 and len(items) > 1:  # two swapped
            i, j = rng.sample(range(len(items)), 2)
            items[i], items[j] = items[j], items[i]
        assert loads_rows(blocks.dump(items, Counted())) == rows(items)


def test_only_what_changed_is_pickled_again() -> None:
    blocks: Blocks[Item] = Blocks(size=100)
    items = [Item(i) for i in range(10_000)]
    first = Counted()
    blocks.dump(items, first)
    assert first.calls == 10_000
    again = Counted()
    assert loads_rows(blocks.dump(items, again)) == rows(items)
    assert again.calls == 0
    # As the learner's retries change it: 150 off the front, 120 back on.
    retried, items = items[:150], items[150:]
    items += [Item(i.n) for i in retried[:120]]
    moved = Counted()
    assert loads_rows(blocks.dump(items, moved)) == rows(items)
    # The block the front ate into (50 left) and what came at the back.
    assert moved.calls == 50 + 120
    # One in the middle given up: that block is made again, up to the next.
    del items[5_000]
    middle = Counted()
    assert loads_rows(blocks.dump(items, middle)) == rows(items)
    assert middle.calls <= 2 * 100 + 120


def test_blocks_load_through_the_restricted_unpickler() -> None:
    class Sneaky:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("not a row",))

    with pytest.raises(BadSnapshot):
        loads_rows([pickle.dumps([Sneaky()])])
