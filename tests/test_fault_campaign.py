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


def _campaign():
    import importlib

    bench = str(ROOT / "benchmarks")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module("campaign")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the folder cases make FIFOs")
def test_the_integer_encoding_split_and_special_file_cases_pass(tmp_path):
    """Each kind of case added for integers past int()'s digit limit, non-UTF-8 model
    headers, splits of different image sizes and entries that are no file, run here
    without the campaign's fork: every one is read right or refused naming the place."""
    import random

    pytest.importorskip("PIL")
    camp = _campaign()
    from campaign import csv_files, folders, idx_files, model_files
    from campaign.harness import Outcome

    assert camp is not None
    bases = model_files.base_files(tmp_path)
    rng = random.Random(5)
    wanted = {
        "model files": ("digits", "encoding"),
        "Kaggle CSVs": ("field", "ok-field"),
        "IDX files": ("splits",),
        "image folders": ("dangling", "fifo", "link-loop", "device"),
    }
    splits = [idx_files._splits_case(random.Random(k)) for k in range(6)]  # no gzip bombs
    pools = [model_files.cases(rng, 400, bases), csv_files.cases(rng, 300), splits,
             folders.cases(rng, 200)]  # fmt: skip
    seen: dict[str, set] = {}
    for i, case in enumerate(c for pool in pools for c in pool):
        tags = [t for t in wanted[case.target] if t in case.name]
        if not tags:
            continue
        work = tmp_path / f"case{i}"
        work.mkdir()
        with pytest.raises(Outcome) as info:
            case.run(str(work))
        assert info.value.kind in ("ok", "clean"), (case.name, info.value.detail)
        seen.setdefault(case.target, set()).update(tags)
    assert seen == {t: set(v) for t, v in wanted.items()}
