"""``eddy worker``: run a worker process (all Faust CLI options apply).
``eddy model ...``: the served model's versions and controls.
``eddy score INPUT --output OUTPUT``: a file of events scored.
``eddy replay ...``: history through a model, evaluated as River does."""

from __future__ import annotations

import asyncio
import sys


def main() -> None:
    from pydantic import ValidationError

    from app.errors import ConfigError

    try:
        _main()
    except (ConfigError, ValidationError) as exc:  # refused at start: why, not a traceback
        print(f"eddy: {exc}", file=sys.stderr)
        sys.exit(2)


def _main() -> None:
    if sys.argv[1:2] == ["model"]:
        from app.admin import run

        sys.exit(asyncio.run(run(sys.argv[2:])))
    if sys.argv[1:2] == ["score"]:
        from app import batch

        sys.exit(batch.run(sys.argv[2:]))
    if sys.argv[1:2] == ["replay"]:
        from app import evaluation

        sys.exit(evaluation.run(sys.argv[2:]))
    import agents.roles  # noqa: F401  (registers the agents)
    from app.kafka_auth import check
    from app.streams import app, settings

    # Its own loop, closed after: Faust makes and keeps the worker's.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(check(settings))
    finally:
        loop.close()
    app.main()


if __name__ == "__main__":
    main()
