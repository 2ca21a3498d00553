"""A brand-new Kafka broker and Redis for one scenario, run by
``scripts/stack.sh`` in a temporary directory on free ports, so that the
scenario may kill, freeze or restart them without touching the shared stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Literal

from faults.flow import settle
from faults.runner import Context, Endpoints, Report
from tests.harness import ROOT, free_port

Server = Literal["kafka", "redis"]
SERVERS: tuple[Server, ...] = ("kafka", "redis")
_numbers = itertools.count(1)


class OwnStack:
    """``scripts/stack.sh`` with its own ``STACK_DIR`` and ports; stopped and
    deleted on the way out, whatever happened."""

    def __init__(self, context: Context, report: Report) -> None:
        self.report = report
        self.dir = Path(tempfile.mkdtemp(prefix="eddy-faults-stack-"))
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        self.kafka_port, self.controller_port, self.redis_port = sorted(ports)
        self.log = context.logs / f"stack-{report.name}-{next(_numbers)}.log"

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            f"127.0.0.1:{self.kafka_port}", f"redis://127.0.0.1:{self.redis_port}/0", shared=False
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STACK_DIR": str(self.dir),
            "STACK_KAFKA_PORT": str(self.kafka_port),
            "STACK_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "STACK_REDIS_PORT": str(self.redis_port),
        }

    async def script(self, command: str) -> float:
        """Run ``scripts/stack.sh command``; the seconds it took."""
        began = time.monotonic()
        with self.log.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                "bash",
                str(ROOT / "scripts" / "stack.sh"),
                command,
                env=self.env(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
            code = await proc.wait()
        if code != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"stack.sh {command} exited {code}: " + " / ".join(tail))
        return time.monotonic() - began

    async def __aenter__(self) -> OwnStack:
        """Start the stack (about 10 to 40 s: Maven copies the jars from its cache)."""
        try:
            seconds = await self.script("start")
        except BaseException:
            await self.__aexit__()
            raise
        self.report.say(
            f"own stack up in {seconds:.0f} s: kafka {self.endpoints.kafka}, "
            f"redis {self.endpoints.redis} ({self.dir})"
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in SERVERS:
            # A frozen server would take SIGTERM only once thawed.
            with contextlib.suppress(OSError, ValueError):
                os.kill(self.pid(server), signal.SIGCONT)
        try:
            await self.script("stop")
        finally:
            for server in SERVERS:
                # Whatever stack.sh could not stop must not outlive the scenario.
                with contextlib.suppress(OSError, ValueError):
                    os.kill(self.pid(server), signal.SIGKILL)
            shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self, server: Server) -> int:
        return int((self.dir / server / f"{server}.pid").read_text().strip())

    def signal(self, server: Server, sig: signal.Signals) -> int:
        """Send ``sig`` to the stack's broker or Redis; its pid."""
        pid = self.pid(server)
        os.kill(pid, sig)
        return pid

    async def kill(self, server: Server) -> None:
        """SIGKILL, and wait until the process is gone."""
        pid = self.signal(server, signal.SIGKILL)

        async def gone() -> bool:
            return not alive(pid)

        if not await settle(gone, 30, every=0.05):
            raise RuntimeError(f"{server} ({pid}) still runs 30 s after SIGKILL")

    def frozen(self, server: Server) -> bool:
        """Whether the server is stopped by a signal (SIGSTOP)."""
        return state(self.pid(server)) == "T"


def state(pid: int) -> str | None:
    """The process's state letter in ``/proc`` (None: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped yet, does not)."""
    return state(pid) not in (None, "Z")
