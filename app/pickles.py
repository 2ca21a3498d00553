"""The only way a snapshot is unpickled: a restricted unpickler that finds
only the classes a snapshot legitimately holds, so that a pickle, even one
signed with a valid key, cannot call anything else.

Allowed: classes of River's model packages and of the project's own
modules whose every base class is allowed too (so nothing built on
River's datasets, which download and write files, however it is filed),
from modules already imported (nothing is imported to find a class); the
standard containers, and a few named helpers River's pickles use
(``functools.partial``, ``random.Random``, NumPy's array reconstruction).
``getattr``, which pickles a bound method, is replaced by one that
fetches only the few methods River pickles that way. A pickle that
rewrites a class it found (``BUILD`` on a class object) is undone and
refused. Anything else, and any name that resolves elsewhere
(``river.x.os``), is refused with ``BadSnapshot`` before it is called.

>>> import pickle, collections
>>> loads(pickle.dumps(collections.Counter(a=1)))
Counter({'a': 1})
>>> import os
>>> loads(pickle.dumps(os.getcwd))
Traceback (most recent call last):
app.errors.BadSnapshot: a snapshot may not hold posix.getcwd
"""

from __future__ import annotations

import abc
import collections
import copyreg
import enum
import functools
import importlib
import io
import pickle
import random
import sys
import typing
from typing import Any

import app.catalog  # noqa: F401  (what a model holds, imported before it is looked up)
from app.errors import BadSnapshot

RIVER_PACKAGES = frozenset(
    f"river.{name}"
    for name in (
        "_river_rust",
        "bandit",
        "base",
        "compose",
        "drift",
        "forest",
        "linear_model",
        "metrics",
        "model_selection",
        "naive_bayes",
        "neighbors",
        "optim",
        "preprocessing",
        "proba",
        "stats",
        "tree",
        "utils",
    )
)
"""River's packages whose classes a model may hold (not its datasets,
streams or I/O)."""

PROJECT_MODULES = frozenset(
    f"app.{name}"
    for name in ("calibration", "catalog", "drift", "learner", "model", "quality", "selection")
)
"""The project's modules whose classes a learner's state holds."""

BUILTINS = frozenset(
    {"bool", "complex", "dict", "float", "frozenset", "int", "list", "set", "str", "tuple"}
)
"""Builtins a snapshot may name (not ``range``: ``set(range(10**9))`` is 30
bytes; bytes and byte arrays have opcodes of their own)."""

FOREIGN_BASES = frozenset(
    {object, abc.ABC, typing.Generic, enum.Enum, enum.ReprEnum, enum.StrEnum, enum.IntEnum}
    | {collections.UserList, collections.UserDict}
)
"""Base classes outside River and the project that allowed classes have."""

HELPERS: dict[tuple[str, str], Any] = {
    ("collections", "Counter"): collections.Counter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("collections", "deque"): collections.deque,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("functools", "partial"): functools.partial,
    ("random", "Random"): random.Random,
}

BOUND_METHODS = frozenset({"clone", "_test_both", "_test_decrease", "_test_increase"})
"""Methods a pickle may fetch with ``getattr``, as River pickles them: a
factory of fresh models (``model.clone``), and Page-Hinkley's test of the
direction it watches."""


def _method(obj: object, name: str) -> Any:
    """``getattr`` for the bound methods a snapshot may hold, of objects of
    allowed classes only."""
    cls = type(obj)
    if name not in BOUND_METHODS or not (_allowed_module(cls.__module__) and _allowed_class(cls)):
        raise BadSnapshot(
            f"a snapshot may not fetch {type(obj).__qualname__}.{name}", reason="forbidden"
        )
    return getattr(obj, name)


def _numpy(module: str, name: str) -> Any:
    """NumPy's array reconstruction, when a snapshot holds arrays (River's
    own dependency: imported only then)."""
    arrays = ("numpy._core.multiarray", "numpy.core.multiarray")
    if (module in arrays and name in ("_reconstruct", "scalar")) or (
        module == "numpy" and name in ("ndarray", "dtype")
    ):
        return getattr(importlib.import_module(module), name)
    return None


def _allowed_module(module: str) -> bool:
    if module in PROJECT_MODULES:
        return True
    return any(module == p or module.startswith(p + ".") for p in RIVER_PACKAGES)


def _allowed_class(cls: type) -> bool:
    """A class of an allowed module whose bases all are, or a helper."""
    if cls in HELPERS.values():
        return True
    return all(
        base in FOREIGN_BASES
        or base in HELPERS.values()
        or (base.__module__ == "builtins" and base.__name__ in BUILTINS)
        or base.__module__ == "collections.abc"  # interfaces: nothing of their own runs
        or _allowed_module(getattr(base, "__module__", "") or "")
        for base in cls.__mro__
    )


class _Unpickler(pickle.Unpickler):
    def __init__(self, blob: bytes) -> None:
        super().__init__(io.BytesIO(blob))
        self.found: dict[type, dict[str, Any]] = {}
        """Each class found, with its attributes as they were."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins":
            if name in BUILTINS:
                return self._found(super().find_class(module, name))
            if name == "getattr":
                return _method
        elif (module, name) in HELPERS:
            return self._found(HELPERS[module, name])
        elif (array := _numpy(module, name)) is not None:
            return array
        elif _allowed_module(module) and module in sys.modules:  # never imported here
            found = super().find_class(module, name)
            # The class itself, and all it is built on, must be allowed:
            # ``river.x.os.system`` and the like resolve through an allowed
            # module to something else.
            if isinstance(found, type) and _allowed_class(found):
                return self._found(found)
        raise BadSnapshot(f"a snapshot may not hold {module}.{name}", reason="forbidden")

    def _found(self, cls: Any) -> Any:
        if isinstance(cls, type) and cls not in self.found:
            self.found[cls] = dict(vars(cls))
        return cls

    def rewritten(self) -> list[type]:
        """The classes found whose attributes changed while loading, put back
        as they were (``BUILD`` on a class object sets class attributes)."""
        changed = []
        for cls, before in self.found.items():
            now = vars(cls)
            if now.keys() == before.keys() and all(now[k] is v for k, v in before.items()):
                continue
            changed.append(cls)
            for key in set(now) - set(before):
                delattr(cls, key)
            for key, value in before.items():
                if now.get(key) is not value:
                    setattr(cls, key, value)
        return changed


def loads(blob: bytes) -> Any:
    """What ``blob`` holds, if it holds only what a snapshot may; else
    ``BadSnapshot`` before anything else is called."""
    unpickler = _Unpickler(blob)
    try:
        return unpickler.load()
    finally:
        rewritten = unpickler.rewritten()
        if rewritten:
            names = ", ".join(sorted(f"{c.__module__}.{c.__qualname__}" for c in rewritten))
            raise BadSnapshot(f"a snapshot may not rewrite {names}", reason="forbidden")
