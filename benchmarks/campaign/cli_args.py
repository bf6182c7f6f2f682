"""Command lines: every sub-command with flags set to values that are fine and values
that are not (NaN, infinities, negatives, fractions, absurd sizes, empty strings, bad
schedules and augmentations), output paths that are files, pipes or empty, inputs
that are damaged (model files, a test.csv with a '#' row, corrupt images).

A command line must end in exit 0 when every value is fine, and otherwise in a
non-zero exit with one ``barenet CMD: error:`` line and no traceback. Exit 0 on a bad
value is garbage; a submission with fewer rows than the test.csv, or a reported
figure that does not exist, is data lost.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

from . import model_files
from .harness import MAX_MESSAGE, Case, Outcome

TARGET = "command lines"
_HEADER = ",".join(f"pixel{i}" for i in range(784))


def fixtures(tmp: Path) -> dict:
    """Files every case may read (never write): data, a model, images."""
    from PIL import Image

    import barenet as bn
    from barenet.models import build_model

    kaggle = tmp / "kaggle"
    kaggle.mkdir()
    g = np.random.default_rng(0)
    y = np.arange(60) % 10
    px = g.integers(0, 40, (60, 784))
    px[np.arange(60), y * 70] = 255
    rows = [",".join(map(str, [y[i], *px[i]])) for i in range(60)]
    train = "label," + _HEADER + "\n" + "\n".join(rows) + "\n"
    (kaggle / "train.csv").write_text(train, encoding="utf-8")
    test_rows = [",".join(map(str, r)) for r in g.integers(0, 255, (5, 784))]
    (tmp / "test.csv").write_text(_HEADER + "\n" + "\n".join(test_rows) + "\n", encoding="utf-8")
    hashed = list(test_rows)
    hashed[2] = "#" + hashed[2]
    (tmp / "test_hash.csv").write_text(_HEADER + "\n" + "\n".join(hashed) + "\n", encoding="utf-8")
    Image.new("L", (28, 28), 200).save(tmp / "digit.png")
    Image.fromarray(np.full((28, 28), 40000, np.uint16)).save(tmp / "digit16.png")
    (tmp / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))
    (tmp / "a-file").write_text("not a folder", encoding="utf-8")
    (tmp / "empty").mkdir()
    (tmp / "bad.toml").write_text("[grid\nlr = ", encoding="utf-8")
    sweep = '[base]\nmodel = "mlp"\ndata = "blobs"\nepochs = 1\n[grid]\nlr = [0.1]\n'
    (tmp / "ok.toml").write_text(sweep, encoding="utf-8")
    (tmp / "long.toml").write_text(sweep.replace("= 1\n", "= " + "9" * 5000 + "\n"), "utf-8")
    bn.seed(0)
    meta = {
        "class_names": [str(i) for i in range(10)],
        "input_shape": [1, 28, 28],
        "task": "classification",
        "dataset": "kaggle",
        "normalisation": {"range": [0.0, 1.0], "invert": False},
        "config": {"data": "kaggle", "data_dir": str(kaggle), "seed": 0},
    }
    model = bn.save(build_model("mlp", (1, 28, 28), 10, hidden=[8]), tmp / "m.safetensors", meta)
    return {
        "dir": tmp,
        "kaggle": str(kaggle),
        "model": str(model),
        "model_bytes": model.read_bytes(),
    }


# (value, valid) pools, per flag.
_V = {
    "--lr": [("0.01", 1), ("1e-4", 1), ("nan", 0), ("inf", 0), ("-1", 0), ("0", 0), ("x", 0)],
    "--momentum": [("0", 1), ("0.5", 1), ("-5", 0), ("1", 0), ("1.5", 0), ("nan", 0)],
    "--weight-decay": [("0", 1), ("1e-4", 1), ("-0.1", 0), ("nan", 0), ("inf", 0)],
    "--epochs": [("1", 1), ("2", 1), ("0", 0), ("-1", 0), ("1.5", 0), ("nan", 0), ("x", 0)],
    "--batch-size": [("1", 1), ("16", 1), ("100000000", 1), ("0", 0), ("-1", 0), ("1.5", 0)],
    "--val-fraction": [("0", 1), ("0.2", 1), ("1", 0), ("-0.1", 0), ("nan", 0), ("2", 0)],
    "--limit-train": [("20", 1), ("0", 0), ("-1", 0), ("1.5", 0)],
    "--limit-test": [("5", 1), ("0", 0), ("-3", 0)],
    "--patience": [("1", 1), ("-1", 0), ("0", 0), ("1.5", 0)],
    "--seed": [("0", 1), ("7", 1), ("-1", 0), ("1.5", 0), ("x", 0)],
    "--schedule": [
        ("cosine", 1), ("step:1:0.5", 1), ("plateau", 1), ("none", 1), ("cosine:0.00001", 1),
        ("cosine:5", 0), ("cosine:x", 0), ("step:0", 0), ("step:1:2", 0), ("plateau:2", 0),
        ("warp", 0), ("cosine:1:2", 0), ("step:nan", 0),
    ],
    "--augment": [
        ("shift", 1), ("noise:0.05", 1), ("none", 1), (",,,", 0), ("shift,,noise", 0),
        ("wobble", 0), ("noise:-1", 0), ("", 0),
    ],
    "--model-args": [
        ('{"hidden": [8]}', 1), ('{"hidden": [1.5]}', 0), ("[1]", 0), ("{bad", 0),
        ('{"hidden": [0]}', 0), ('{"hidden": [10000000000]}', 0), ('{"nope": 1}', 0),
        ('{"hidden": "8"}', 0), ('{"hidden": [true]}', 0),
    ],
    "--optimizer": [("sgd", 1), ("momentum", 1), ("adamw", 1), ("bogus", 0)],
    "--init": [("he_normal", 1), ("bogus", 0)],
}  # fmt: skip
_OUT_DIR = [("run", 1), ("deep/er/run", 1), ("", 0), ("A_FILE", 0), ("FIFO", 0), ("A_FILE/x", 0)]
_OUT_FILE = [("out.csv", 1), ("sub/out.csv", 1), ("", 0), (".", 0), ("FIFO", 0), ("A_FILE/x", 0)]


def _pick(rng: random.Random, pool):
    return rng.choice(pool)


def _some_flags(rng: random.Random, argv: list, tags: list, flags: list, how_many: int) -> bool:
    """Append ``how_many`` of ``flags`` ((flag, pool) pairs) to ``argv``, each with a value
    drawn from its pool, and a tag for each; True when every value drawn is valid."""
    valid = True
    for flag, pool in rng.sample(flags, how_many):
        value, ok = _pick(rng, pool)
        argv += [flag, value]
        valid &= bool(ok)
        tags.append(f"{flag} {value}")
    return valid


def _train(rng, fx):
    argv = ["train", "mlp", "--data", "kaggle", "--data-dir", fx["kaggle"], "--epochs", "1"]
    argv += ["--batch-size", "16", "--model-args", '{"hidden": [8]}', "--no-plots", "--quiet"]
    valid, tags = True, []
    for flag in rng.sample(sorted(_V), rng.randint(1, 2)):
        value, ok = _pick(rng, _V[flag])
        argv += [flag, value]
        valid &= bool(ok)
        tags.append(f"{flag} {value[:20]}")
    out, ok = _pick(rng, _OUT_DIR) if rng.random() < 0.3 else ("run", 1)
    if rng.random() < 0.1:
        data_dir, ok_dir = _pick(rng, [("MISSING", 0), ("A_FILE", 0), ("EMPTY", 0)])
        argv[argv.index("--data-dir") + 1] = data_dir
        valid &= bool(ok_dir)
        tags.append(f"--data-dir {data_dir}")
    argv += ["--out", out]
    tags.append(f"--out {out}") if out != "run" else None
    return argv, valid and bool(ok), "train " + "; ".join(tags)


def _damaged_model(rng, fx) -> tuple[str, int, str]:
    kind = rng.choice(["ok"] * 6 + ["header", "meta", "bytes", "folder", "missing", "text"])
    if kind == "ok":
        return fx["model"], 1, "model"
    if kind == "folder":
        return "EMPTY", 0, "model is a folder"
    if kind == "missing":
        return "MISSING", 0, "no model file"
    edit = {"header": model_files.header_edit, "meta": model_files.meta_edit,
            "text": model_files.text_edit}.get(kind, model_files.byte_edits)  # fmt: skip
    data, what = edit(fx["model_bytes"], rng)
    return ("DAMAGED", data), 0, f"damaged model ({what})"


def _evaluate(rng, fx):
    model, valid, tag = _damaged_model(rng, fx)
    argv = ["evaluate", model, "--data", "kaggle", "--data-dir", fx["kaggle"], "--json"]
    tags = [tag]
    valid &= _some_flags(
        rng,
        argv,
        tags,
        [
            ("--limit", [("5", 1), ("0", 0), ("-1", 0), ("1.5", 0)]),
            ("--batch-size", [("7", 1), ("0", 0), ("nan", 0)]),
            ("--plot", [("cm", 1), ("cm.png", 1), ("", 0), ("cm.jpg", 0), (".", 0), ("FIFO", 0)]),
            ("--out", _OUT_DIR),
        ],
        rng.randint(0, 2),
    )
    return argv, valid, "evaluate " + "; ".join(tags)


def _predict(rng, fx):
    model, valid, tag = _damaged_model(rng, fx)
    d = fx["dir"]
    inputs, ok, what = _pick(
        rng,
        [
            ([str(d / "test.csv")], 1, "test.csv"),
            ([str(d / "test.csv")], 1, "test.csv"),
            ([str(d / "test_hash.csv")], 0, "test.csv with a # row"),
            ([str(d / "digit.png"), str(d / "digit16.png")], 1, "png"),
            ([str(d / "digit.png"), str(d / "digit16.png")], 1, "png"),
            ([str(d / "corrupt.png")], 0, "corrupt png"),
            ([str(d / "missing.png")], 0, "missing png"),
            ([str(d)], 0, "a folder"),
        ],
    )
    argv = ["predict", model, *inputs]
    valid &= bool(ok)
    tags = [tag, what]
    if rng.random() < 0.6:
        out, ok = _pick(rng, _OUT_FILE)
        argv += ["--out", out]
        valid &= bool(ok)
        tags.append(f"--out {out}")
    if rng.random() < 0.2:
        value, ok = _pick(rng, [("3", 1), ("0", 0), ("-2", 0), ("x", 0)])
        argv += ["--batch-size", value]
        valid &= bool(ok)
        tags.append(f"--batch-size {value}")
    return argv, valid, "predict " + "; ".join(tags)


_SHAPES = [
    ("1,28,28", 1), ("1,8,8", 1), ("1,100000,100000", 0), ("1,0,28", 0), ("1,x", 0),
    ("", 0), ("1,28.5", 0), ("-1", 0), ("1,100000000", 0),
]  # fmt: skip


def _summary(rng, fx):
    if rng.random() < 0.3:
        model, valid, tag = _damaged_model(rng, fx)
        return ["summary", model], valid, f"summary {tag}"
    name = rng.choice(["mlp", "cnn-small", "cnn-deep", "cnn-res", "nope"])
    argv, valid, tags = ["summary", name], name != "nope", [name]
    valid &= _some_flags(
        rng,
        argv,
        tags,
        [
            ("--input-shape", _SHAPES),
            ("--classes", [("3", 1), ("0", 0), ("-1", 0), ("1.5", 0)]),
            ("--model-args", _V["--model-args"] if name == "mlp" else [("{}", 1), ("[1]", 0)]),
        ],
        rng.randint(0, 2),
    )
    return argv, valid, "summary " + "; ".join(tags)


def _profile(rng, fx):
    name = rng.choice(["mlp", "cnn-small", "nope"])
    argv, valid, tags = ["profile", name, "--repeats", "1"], name != "nope", [name]
    valid &= _some_flags(
        rng,
        argv,
        tags,
        [
            ("--batch", [("2", 1), ("8", 1), ("0", 0), ("-1", 0), ("100000000", 0), ("nan", 0)]),
            ("--input-shape", _SHAPES[:3] + _SHAPES[3:]),
            ("--classes", [("3", 1), ("0", 0)]),
            ("--dtype", [("float64", 1), ("int8", 0)]),
        ],
        rng.randint(1, 2),
    )
    return argv, valid, "profile " + "; ".join(tags)


def _others(rng, fx):
    return _pick(
        rng,
        [
            (["study"], 0, "study without a name"),
            (["study", "nope"], 0, "study nope"),
            (["study", "sine", "--workers", "0"], 0, "study --workers 0"),
            (["study", "--list"], 1, "study --list"),
            (["sweep", "MISSING"], 0, "sweep of a missing file"),
            (["sweep", str(fx["dir"] / "bad.toml")], 0, "sweep of a bad TOML"),
            (["sweep", "EMPTY"], 0, "sweep of a folder"),
            (["train", "mlp", "--data", "blobs", "--epochs", "1", "--out", "run", "--no-plots",
              "--quiet", "--model-args", '{"hidden": [' + "9" * 5000 + "]}"], 0,
             "train --model-args with 5000 digits"),
            (["sweep", str(fx["dir"] / "long.toml"), "--out", "sw"], 0,
             "sweep file epochs with 5000 digits"),
            (["sweep", str(fx["dir"] / "ok.toml"), "--out", "sw", "--set", "epochs=" + "9" * 5000],
             0, "sweep --set epochs with 5000 digits"),
            (["report", "MISSING"], 0, "report of a missing folder"),
            ([], 0, "no command"),
            (["bogus"], 0, "unknown command"),
            (["--version"], 1, "--version"),
        ],
    )


_MAKERS = [(_train, 3), (_evaluate, 2), (_predict, 3), (_summary, 2), (_profile, 1), (_others, 1)]


def _materialise(argv: list, work: Path, fx: dict) -> list[str]:
    """Stand-ins become paths in the case's scratch folder."""
    import os

    out = []
    for a in argv:
        if isinstance(a, tuple):  # ("DAMAGED", bytes)
            p = work / "damaged.safetensors"
            p.write_bytes(a[1])
            a = str(p)
        elif a in ("A_FILE", "A_FILE/x"):
            a = str(fx["dir"] / a.replace("A_FILE", "a-file"))
        elif a == "FIFO":
            os.mkfifo(work / "fifo")
            a = str(work / "fifo")
        elif a == "EMPTY":
            a = str(fx["dir"] / "empty")
        elif a == "MISSING":
            a = str(work / "missing")
        out.append(a)
    return out


def _classify(rc, err: str, out: str, valid: bool, argv: list[str], work: Path) -> Outcome:
    if "Traceback" in err:
        return Outcome("crash", "traceback: " + err.strip().splitlines()[-1][:200])
    if rc != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        said = [ln for ln in lines if re.match(r"barenet( \w+)?: (error: |interrupted)", ln)]
        if not said:
            return Outcome("crash", f"exit {rc} without an error line: {err.strip()[:120]!r}")
        if len(err) > MAX_MESSAGE:
            return Outcome("unclear", f"{len(err)} characters on stderr")
        return Outcome("refused" if valid else "clean", said[-1][:200])
    out_given = argv[argv.index("--out") + 1] if "--out" in argv else None
    if argv and argv[0] == "predict" and argv[2].endswith(".csv") and out_given != "":
        i = argv.index("--out") + 1 if "--out" in argv else None
        sub = Path(argv[i]) if i else work / "submission.csv"
        if not sub.is_absolute():
            sub = work / sub
        rows = len(Path(argv[2]).read_text(encoding="utf-8").splitlines()) - 1
        got = len(sub.read_text(encoding="utf-8").splitlines()) - 1 if sub.is_file() else -1
        if got != rows:
            return Outcome("loss", f"{got} predictions for {rows} rows")
    if not valid:
        return Outcome("garbage", "exit 0")
    if argv and argv[0] == "evaluate" and "--plot" in argv:
        try:
            plot = json.loads(out.strip().splitlines()[-1]).get("plot")
        except (ValueError, IndexError, AttributeError):
            return Outcome("garbage", f"no JSON report on stdout: {out[-100:]!r}")
        if not plot or not (work / plot).is_file():
            return Outcome("garbage", f"reported plot {plot!r}, which does not exist")
    return Outcome("ok")


def _must_name(what: str) -> str | None:
    """What the error line of a case must name (the setting or the file), if anything:
    an integer past int()'s 4,300 digits is refused by int() naming neither."""
    if "digits" not in what:
        return None
    for flag in ("--model-args", "--set epochs", "long.toml"):
        if flag in what or (flag == "long.toml" and "sweep file" in what):
            return flag
    return "damaged.safetensors" if "damaged model" in what else None


def cases(rng: random.Random, n: int, fx: dict) -> list[Case]:
    out = []
    makers, weights = zip(*_MAKERS)
    for _ in range(n):
        r = random.Random(rng.random())
        argv, valid, what = r.choices(makers, weights)[0](r, fx)

        def run(work, argv=argv, valid=bool(valid), what=what):
            import sys

            from barenet.cli import main

            work = Path(work)
            args = _materialise(argv, work, fx)
            try:
                rc = main(args)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException as exc:  # noqa: BLE001 - escaped the boundary: a crash
                raise Outcome("crash", f"escaped main: {type(exc).__name__}: {exc}"[:200]) from None
            sys.stdout.flush()
            sys.stderr.flush()
            err = (work / "stderr.txt").read_text(errors="replace", encoding="utf-8")
            text = (work / "stdout.txt").read_text(errors="replace", encoding="utf-8")
            o = _classify(rc, err, text, valid, args, work)
            name = _must_name(what)
            bare = "integer string conversion" in o.detail  # Python's message, no place
            if o.kind == "clean" and (bare or (name and "digits" in o.detail
                                               and name not in o.detail)):  # fmt: skip
                o = Outcome("unclear", f"{name} not named: {o.detail}")
            raise o

        out.append(Case(TARGET, what, run))
    return out
