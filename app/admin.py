"""The operator's side of the model's controls: the versions, one version,
and commands sent to the learner with what became of them. ``eddy model``
and the HTTP API both go through here."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from app.control import Command
from app.errors import CommandRefused, EddyError
from app.settings import Settings
from app.store import Store
from schemas import ModelAction

WAIT_SECONDS = 5.0
"""How long a command waits for the learner (which takes commands every
``EDDY_SNAPSHOT_INTERVAL_SECONDS``) before the caller is told it is queued."""


async def versions(store: Store, settings: Settings, last: int = 20) -> list[dict[str, Any]]:
    """The newest ``last`` versions and every kept one, oldest first, each
    saying whether its model can still be rolled back to or pinned."""
    name = settings.model
    head = await store.head_version(name)
    if head is None:
        return []
    kept = set(await store.kept(name))
    recent = await store.versions(name, max(head - last + 1, 0), head)
    older = [m for v in sorted(kept) if v <= head - last for m in await store.versions(name, v, v)]
    out = []
    for meta in [*older, *recent]:
        version = int(meta["version"])
        loadable = version in kept or version > head - settings.snapshot_history
        out.append({**meta, "loadable": loadable})
    return out


async def show(store: Store, settings: Settings, version: int) -> dict[str, Any] | None:
    found = await store.versions(settings.model, version, version)
    if not found:
        return None
    return {**found[0], "loadable": await store.loadable(settings.model, version)}


async def request(
    store: Store, settings: Settings, command: Command, within: float = WAIT_SECONDS
) -> dict[str, Any]:
    """Send ``command`` and wait up to ``within`` seconds for the learner:
    ``{"done": true, ...the model event}``, ``{"done": false, "error": ...}``,
    or ``{"done": null, "queued": true}`` if no learner took it in time (it
    is carried out when one does)."""
    await store.send_command(settings.model, command.dump())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        result = await store.command_result(settings.model, command.id)
        if result is not None:
            return {"id": command.id, **result}
        await asyncio.sleep(0.05)
    return {"id": command.id, "done": None, "queued": True}


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="eddy model",
        description="The served model's versions and controls (Redis and model from EDDY_*).",
    )
    verbs = cli.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="the newest versions and every kept one")
    listing.add_argument("--last", type=int, default=20)
    verbs.add_parser("show", help="one version's metadata").add_argument("version", type=int)
    for action in (ModelAction.ROLLBACK, ModelAction.PIN):
        verbs.add_parser(action.value, help=f"{action.value} to a version").add_argument(
            "version", type=int
        )
    for action in (ModelAction.UNPIN, ModelAction.FREEZE, ModelAction.UNFREEZE):
        verbs.add_parser(action.value, help=f"{action.value} the model")
    verbs.add_parser("promote", help="make a challenger the champion").add_argument("challenger")
    return cli


async def run(argv: list[str]) -> int:
    """``eddy model ...``: prints JSON; exits 0 when done, 1 when refused or
    not found, 2 when no learner took the command in time."""
    args = parser().parse_args(argv)
    settings = Settings()
    store = Store.from_settings(settings)
    try:
        if args.verb == "list":
            for row in await versions(store, settings, args.last):
                print(json.dumps(row))
            return 0
        if args.verb == "show":
            found = await show(store, settings, args.version)
            print(json.dumps(found))
            return 0 if found else 1
        try:
            command = Command.new(
                ModelAction(args.verb),
                getattr(args, "version", None),
                getattr(args, "challenger", None),
            )
        except CommandRefused as exc:
            print(json.dumps({"done": False, "error": str(exc)}))
            return 1
        result = await request(store, settings, command)
        print(json.dumps(result))
        return {True: 0, False: 1, None: 2}[result["done"]]
    except EddyError as exc:
        print(f"eddy model: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
