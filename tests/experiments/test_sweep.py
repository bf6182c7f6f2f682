from __future__ import annotations

import json

import pytest

from barenet.experiments.grid import expand
from barenet.experiments.sweep import run_sweep

from .fakes import crash_after_first, fake_run

CFG = {"name": "t", "seeds": [0, 1], "base": {"epochs": 2}, "grid": {"lr": [0.01, 0.1]}}


def _calls(out, name):
    return (out / "runs" / name / "calls.txt").read_text()


def test_runs_write_folders_and_records(tmp_path):
    res = run_sweep(CFG, tmp_path, workers=1, run_fn=fake_run, progress=None)
    assert [r["status"] for r in res] == ["done"] * 4
    assert [r["name"] for r in res][0] == "lr-0.01__seed-0"
    for r in res:
        d = tmp_path / "runs" / r["name"]
        assert json.loads((d / "run.json").read_text())["settings"]["quiet"] is True
        assert (d / "metrics.json").is_file()
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert len(manifest["runs"]) == 4 and manifest["name"] == "t"


def test_resume_skips_finished_and_reruns_unfinished(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_sweep(CFG, tmp_path, workers=1, run_fn=crash_after_first, progress=None)
    assert (tmp_path / "runs/lr-0.01__seed-1/metrics.json").is_file()
    assert not (tmp_path / "runs/lr-0.1__seed-0/metrics.json").exists()
    res = run_sweep(CFG, tmp_path, workers=1, run_fn=fake_run, progress=None)
    status = {r["name"]: r["status"] for r in res}
    assert status == {
        "lr-0.01__seed-0": "skipped",
        "lr-0.01__seed-1": "skipped",
        "lr-0.1__seed-0": "done",
        "lr-0.1__seed-1": "done",
    }
    assert _calls(tmp_path, "lr-0.01__seed-0") == "x"  # not run a second time


def test_failure_is_isolated_in_worker_processes(tmp_path):
    cfg = {
        "seeds": [0],
        "base": {"epochs": 1},
        "runs": [{"lr": 0.01}, {"lr": 0.1, "fail": True}, {"lr": 0.2}],
    }
    res = run_sweep(cfg, tmp_path, workers=2, run_fn=fake_run, progress=None)
    by = {r["name"]: r for r in res}
    failed = [r for r in res if r["status"] == "failed"]
    assert len(failed) == 1 and "planned failure" in failed[0]["error"]
    err = (tmp_path / "runs" / failed[0]["name"] / "error.txt").read_text()
    assert "RuntimeError: planned failure" in err
    assert sum(r["status"] == "done" for r in by.values()) == 2
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["status"] for r in saved] == [r["status"] for r in res]
    # a rerun retries only the failed run and clears its old error once it succeeds
    res2 = run_sweep(cfg, tmp_path, workers=1, run_fn=fake_run, progress=None)
    assert [r["status"] for r in res2] == ["skipped", "failed", "skipped"]


def test_changed_settings_run_again(tmp_path):
    run_sweep(CFG, tmp_path, workers=1, run_fn=fake_run, progress=None)
    changed = {**CFG, "base": {"epochs": 3}}
    res = run_sweep(changed, tmp_path, workers=1, run_fn=fake_run, progress=None)
    assert [r["status"] for r in res] == ["done"] * 4
    assert _calls(tmp_path, "lr-0.01__seed-0") == "xx"
    assert res[0]["metrics"]["epochs"] == 3


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    import barenet.train

    seen = []

    def recorder(settings, out_dir):
        seen.append(settings.get("resume"))
        return fake_run(settings, out_dir)

    monkeypatch.setattr(barenet.train, "run_training", recorder)  # the default run function
    cfg = {"seeds": [0], "base": {"epochs": 1}}
    run_sweep(cfg, tmp_path, workers=1, progress=None)
    run_dir = tmp_path / "runs" / "run__seed-0"
    (run_dir / "metrics.json").unlink()  # stopped after its last checkpoint
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.safetensors").write_bytes(b"state")
    res = run_sweep(cfg, tmp_path, workers=1, progress=None)
    assert seen == [None, True] and res[0]["status"] == "done"
    assert "resume" not in json.loads((run_dir / "run.json").read_text())["settings"]


def test_overrides_replace_the_seeds_and_merge_into_base(tmp_path):
    res = run_sweep(
        CFG,
        tmp_path,
        workers=1,
        run_fn=fake_run,
        progress=None,
        overrides={"seeds": [3], "epochs": 1},
    )
    assert [r["name"] for r in res] == ["lr-0.01__seed-3", "lr-0.1__seed-3"]
    settings = json.loads((tmp_path / "runs" / res[0]["name"] / "run.json").read_text())
    assert settings["settings"]["epochs"] == 1
    with pytest.raises(ValueError, match="seeds"):
        run_sweep(CFG, tmp_path, workers=1, run_fn=fake_run, progress=None, overrides={"seeds": []})


def test_set_of_a_varied_setting_replaces_its_axis(tmp_path):
    from barenet.experiments.grid import apply_overrides

    def names(over):
        return [s.name for s in expand(apply_overrides(CFG, over))]

    assert names({"lr": 0.5, "seeds": [0]}) == ["lr-0.5__seed-0"]
    assert names({"lr": [0.5, 0.2], "seeds": [0]}) == ["lr-0.5__seed-0", "lr-0.2__seed-0"]
    cfg = {"base": {"model_args": {"hidden": [8]}}, "grid": {"model_args.hidden": [[8], [4, 4]]}}
    one = expand(apply_overrides(cfg, {"model_args": {"hidden": [16]}}))
    assert [s.settings["model_args"]["hidden"] for s in one] == [[16]]
    two = expand(apply_overrides(cfg, {"model_args.hidden": [[16], [2]]}))
    assert [s.settings["model_args"]["hidden"] for s in two] == [[16], [2]]
    with pytest.raises(ValueError, match="overlaps the varied setting 'model_args.hidden'"):
        apply_overrides(cfg, {"model_args": 3})
    runs = {"base": {}, "runs": [{"label": "a", "init": "he_normal"}, {"label": "b"}]}
    with pytest.raises(ValueError, match=r"\[\[runs\]\] entries set 'init'"):
        apply_overrides(runs, {"init": "xavier_normal"})
    assert apply_overrides(runs, {"epochs": 2})["base"] == {"epochs": 2}


def test_every_run_is_checked_before_the_first_starts(tmp_path):
    cfg = {"base": {"model": "mlp", "data": "digits"}, "grid": {"lr": [0.1, float("nan")]}}
    with pytest.raises(
        ValueError, match=r"(?s)1 of 2 runs have bad settings.*lr-nan__seed-0: lr must"
    ):
        run_sweep(cfg, tmp_path, workers=1, progress=None)
    assert not (tmp_path / "sweep.json").exists()
