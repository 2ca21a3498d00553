"""``eddy worker``: run a worker process (all Faust CLI options apply).
``eddy model ...``: the served model's versions and controls.
``eddy score INPUT --output OUTPUT``: a file of events scored.
``eddy replay ...``: history through a model, evaluated as River does."""

from __future__ import annotations

import asyncio
import sys


def main() -> None:
    if sys.argv[1:2] == ["model"]:
        from app.admin import run

        sys.exit(asyncio.run(run(sys.argv[2:])))
    if sys.argv[1:2] == ["score"]:
        from app import batch

        sys.exit(batch.run(sys.argv[2:]))
    if sys.argv[1:2] == ["replay"]:
        from app import evaluation

        sys.exit(evaluation.run(sys.argv[2:]))
    import agents  # noqa: F401  (registers the agents)
    from app.streams import app

    app.main()


if __name__ == "__main__":
    main()
