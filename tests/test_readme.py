"""The README says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import markdown_table
from schemas import DeadLetterReason

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_settings_table_is_current() -> None:
    table = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", README, re.S)
    assert table is not None
    assert table.group(1) == markdown_table(), "run python -m app.settings into the README"


def test_every_dead_letter_reason_is_documented() -> None:
    for reason in DeadLetterReason:
        assert f"`{reason.value}`" in README


def test_the_two_commands_exist() -> None:
    root = Path(__file__).resolve().parent.parent
    for command in ("scripts/demo.sh", "scripts/test.sh", "scripts/stack.sh"):
        assert command in README and (root / command).exists()
