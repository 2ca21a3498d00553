"""The model a process scores with, and the version that names it."""

from __future__ import annotations

from dataclasses import dataclass

from app.model import OnlineModel


@dataclass(slots=True)
class ServedModel:
    """The current model of this process. Swapped whole, never mutated: a
    prediction always names the exact version that made it."""

    model: OnlineModel
    version: int

    def swap(self, model: OnlineModel, version: int) -> bool:
        """Serve ``version`` if it is newer than the current one."""
        if version <= self.version:
            return False
        self.model, self.version = model, version
        return True
