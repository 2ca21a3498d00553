"""``eddy worker``: run a worker process (all Faust CLI options apply)."""

from __future__ import annotations

import agents  # noqa: F401  (registers the agents)
from app.streams import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
