"""Loaded first by every pytest run here (tests and doctests alike): the
modules that build the worker at import need a snapshot key, so a run
without one (no ``EDDY_SNAPSHOT_KEY`` or ``_FILE`` in the environment)
uses the tests' own."""

import os

from tests.harness import SNAPSHOT_KEY

if not (os.environ.get("EDDY_SNAPSHOT_KEY") or os.environ.get("EDDY_SNAPSHOT_KEY_FILE")):
    os.environ["EDDY_SNAPSHOT_KEY"] = SNAPSHOT_KEY
