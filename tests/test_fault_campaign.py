"""A short run of the fault campaign (benchmarks/fault_campaign.py): no crash, no
damaged input accepted, nothing lost. The long run is the benchmark itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the campaign forks its cases")
def test_a_short_campaign_finds_nothing(tmp_path):
    pytest.importorskip("PIL")
    out = tmp_path / "counts.json"
    path = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fault_campaign.py"), "--cases", "150",
         "--seed", "11", "--quiet", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    counts = json.loads(out.read_text())
    assert set(counts) == {"model files", "IDX files", "Kaggle CSVs", "image folders",
                           "command lines"}  # fmt: skip
    assert sum(sum(c.values()) for c in counts.values()) == 150
    for target, c in counts.items():
        assert c["crash"] == c["garbage"] == c["loss"] == 0, (target, c, r.stdout)
        assert c["clean"] > 0, target
