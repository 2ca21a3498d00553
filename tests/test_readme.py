"""The README says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from app.metrics import markdown_table as metrics_table
from app.settings import markdown_table as settings_table
from schemas import DeadLetterReason

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", README, re.S)
    assert found is not None, name
    return found.group(1)


def test_settings_table_is_current() -> None:
    assert section("settings") == settings_table(), "run python -m app.settings into the README"


def test_metrics_table_is_current() -> None:
    assert section("metrics") == metrics_table(), "run python -m app.metrics into the README"


def test_every_dead_letter_reason_is_documented() -> None:
    for reason in DeadLetterReason:
        assert f"`{reason.value}`" in README


def test_the_two_commands_exist() -> None:
    root = Path(__file__).resolve().parent.parent
    for command in ("scripts/demo.sh", "scripts/test.sh", "scripts/stack.sh"):
        assert command in README and (root / command).exists()
