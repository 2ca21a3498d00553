"""The only way a snapshot is unpickled: a restricted unpickler that finds
only the classes a snapshot legitimately holds, so that a pickle, even one
signed with a valid key, cannot call anything else.

Allowed: classes of River's model packages and of the project's own
modules, the standard containers, and a few named helpers that River's
own pickles use (``functools.partial``, ``random.Random``, NumPy's array
reconstruction). ``getattr``, which pickles a bound method, is replaced by
one that fetches only the few methods River pickles that way.
Anything else, and any module path that resolves elsewhere (``river.x.os``),
is refused with ``BadSnapshot`` before it is called.

>>> import pickle, collections
>>> loads(pickle.dumps(collections.Counter(a=1)))
Counter({'a': 1})
>>> import os
>>> loads(pickle.dumps(os.getcwd))
Traceback (most recent call last):
app.errors.BadSnapshot: a snapshot may not hold posix.getcwd
"""

from __future__ import annotations

import collections
import copyreg
import functools
import importlib
import io
import pickle
import random
from typing import Any

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
    {"bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list"}
    | {"object", "range", "set", "slice", "str", "tuple"}
)

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
    if name not in BOUND_METHODS or not _allowed_class(type(obj)):
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
    return _allowed_module(getattr(cls, "__module__", "") or "") or cls in HELPERS.values()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins":
            if name in BUILTINS:
                return super().find_class(module, name)
            if name == "getattr":
                return _method
        elif (module, name) in HELPERS:
            return HELPERS[module, name]
        elif (array := _numpy(module, name)) is not None:
            return array
        elif _allowed_module(module):
            found = super().find_class(module, name)
            # The class itself must live there: ``river.x.os.system`` and the
            # like resolve through an allowed module to something else.
            if isinstance(found, type) and _allowed_class(found):
                return found
        raise BadSnapshot(f"a snapshot may not hold {module}.{name}", reason="forbidden")


def loads(blob: bytes) -> Any:
    """What ``blob`` holds, if it holds only what a snapshot may; else
    ``BadSnapshot`` before anything else is called."""
    return _Unpickler(io.BytesIO(blob)).load()
