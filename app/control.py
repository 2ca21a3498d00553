"""Operators' commands on the model, and what each does to the learner's
state. Pure: ``app.training`` carries them out, one at a time, in order,
each as a new version.

>>> command = Command.parse({"id": "c1", "action": "freeze", "requested_at": 0})
>>> command.action.value, command.version
('freeze', None)
>>> Command.parse({"id": "c2", "action": "pin", "requested_at": 0})
Traceback (most recent call last):
...
app.errors.CommandRefused: pin needs a version
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.errors import CommandRefused
from schemas import ModelAction

if TYPE_CHECKING:
    from app.learner import LearnerState
    from app.model import OnlineModel

WITH_VERSION = {ModelAction.ROLLBACK, ModelAction.PIN}
"""Actions that serve the model of a given version."""

NEW_MODEL = frozenset(
    {ModelAction.ROLLBACK, ModelAction.PIN, ModelAction.PROMOTE, ModelAction.RESET}
)
"""Actions after which another model serves: its quality by version starts."""


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    action: ModelAction
    version: int | None
    requested_at: float
    challenger: str | None = None
    """The pipeline to promote (promote)."""

    @classmethod
    def new(
        cls, action: ModelAction, version: int | None = None, challenger: str | None = None
    ) -> Command:
        command = cls(uuid.uuid4().hex, ModelAction(action), version, time.time(), challenger)
        command.check()
        return command

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Command:
        """A command as queued, or ``CommandRefused`` saying what is wrong."""
        try:
            action = ModelAction(raw["action"])
            version = raw.get("version")
            challenger = raw.get("challenger")
            command = cls(
                str(raw["id"]),
                action,
                None if version is None else int(version),
                float(raw["requested_at"]),
                None if challenger is None else str(challenger),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CommandRefused(f"not a command: {raw!r} ({exc})") from exc
        command.check()
        return command

    def check(self) -> None:
        if self.action in WITH_VERSION and self.version is None:
            raise CommandRefused(f"{self.action.value} needs a version")
        if self.action not in WITH_VERSION and self.version is not None:
            raise CommandRefused(f"{self.action.value} takes no version")
        if self.version is not None and self.version < 0:
            raise CommandRefused(f"no version {self.version}")
        if (self.action is ModelAction.PROMOTE) != (self.challenger is not None):
            raise CommandRefused("promote, and only promote, names a challenger")

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action.value,
            "version": self.version,
            "requested_at": self.requested_at,
            "challenger": self.challenger,
        }


def apply(command: Command, state: LearnerState, model: OnlineModel | None) -> str:
    """Change ``state`` as ``command`` says (``model``: that of its version,
    for a rollback or a pin); the reason logged with the new version.
    ``CommandRefused`` if it makes no sense, and then ``state`` is as it was."""
    action = command.action
    if action in WITH_VERSION:
        if model is None:
            raise CommandRefused(f"version {command.version}'s model is not kept any more")
        if model.kind != state.model.kind:
            raise CommandRefused(f"version {command.version} is a {model.kind}")
        model.max_features = state.model.max_features
        state.model = model
    if action is ModelAction.ROLLBACK:
        state.pinned = None
        return f"rolled back to version {command.version}" + (
            " (still frozen)" if state.frozen else ""
        )
    if action is ModelAction.PIN:
        state.pinned = command.version
        return f"version {command.version} pinned: served, not learned, until unpinned"
    if action is ModelAction.UNPIN:
        if state.pinned is None:
            raise CommandRefused("nothing is pinned")
        was, state.pinned = state.pinned, None
        return f"version {was} unpinned: learning goes on from it" + (
            " once unfrozen" if state.frozen else ""
        )
    if action is ModelAction.FREEZE:
        if state.frozen:
            raise CommandRefused("learning is frozen already")
        state.frozen = True
        return "learning frozen: labels joined and counted, not learned"
    if state.frozen is False:
        raise CommandRefused("learning is not frozen")
    state.frozen = False
    return "learning unfrozen" + (f" (version {state.pinned} still pinned)" if state.pinned else "")
