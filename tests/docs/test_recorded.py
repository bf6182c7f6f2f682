"""The book's recorded figures (``docs/recorded.toml``) are the README's: every command
the book quotes is one the README shows, and every number of its result stands there
too, so the two cannot drift apart silently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def squash(text: str) -> str:
    return " ".join(text.replace("\\", " ").split())


def recorded_runs():
    data = tomllib.loads((REPO / "docs" / "recorded.toml").read_text(encoding="utf-8"))
    return [run for section in data.values() if isinstance(section, dict)
            for run in section.get("runs", [])]


def test_every_recorded_run_is_the_readmes():
    readme = squash((REPO / "README.md").read_text(encoding="utf-8"))
    runs = recorded_runs()
    assert len(runs) >= 10
    for run in runs:
        assert squash(run["command"]) in readme, run["command"]
        for number in NUMBER.findall(run["result"]):
            assert number in readme, (number, run["result"])


def test_the_learning_rate_table_is_the_readmes():
    data = tomllib.loads((REPO / "docs" / "recorded.toml").read_text(encoding="utf-8"))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for point, acc in data["deep_lr"]["here"].items():
        lr = float(point.split("=")[1])
        row = re.search(rf"^\| {lr:.0e}".replace("e-0", "e-") + r" \|.*\| ([\d.]+) % \|$",
                        readme, re.M)
        assert row, point
        assert float(row.group(1)) == pytest.approx(100 * acc, abs=1e-9), point
