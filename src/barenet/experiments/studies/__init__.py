"""The shipped studies: one TOML sweep configuration each, in this folder. The list
of studies (:data:`STUDIES`) is the list of those files; adding a study is adding
a file.

``run_study(name, out_root)`` runs ``<name>.toml`` into ``out_root/<name>`` and
writes its tables and figures. ``--quick`` variants (the ``[quick]`` table of each
file) run on the bundled 8x8 digits, or on 3000 Fashion-MNIST images where a
model needs 28x28 input, with few epochs and one or two seeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..figures import make_figures
from ..grid import load_config
from ..results import write_tables
from ..sweep import DEFAULT_RUN_FN, run_sweep
from ..table import load_sweep

__all__ = ["STUDIES", "study_path", "load_study", "run_study", "finish_sweep"]

_HERE = Path(__file__).resolve().parent
# Every TOML file in this folder is a study, named after the file.
STUDIES = sorted(p.stem for p in _HERE.glob("*.toml"))


def study_path(name: str) -> Path:
    """The TOML file of study ``name``; ``ValueError`` listing the names if unknown."""
    if name not in STUDIES:
        raise ValueError(f"study: unknown study {name!r}; choose from {', '.join(STUDIES)}")
    return _HERE / f"{name}.toml"


def load_study(name: str) -> dict:
    """The configuration of study ``name`` (its ``[quick]`` table not yet applied)."""
    return load_config(study_path(name))


def finish_sweep(sweep_dir: str | os.PathLike, figures: bool = True) -> list[Path]:
    """Tables and (unless ``figures`` is false) figures of a sweep folder; returns the
    files written."""
    sweep = load_sweep(sweep_dir)
    return write_tables(sweep) + (make_figures(sweep) if figures else [])


def run_study(
    name: str,
    out_root: str | os.PathLike,
    *,
    quick: bool = False,
    workers: int | None = None,
    overrides: dict | None = None,
    figures: bool = True,
    run_fn: Callable | str | None = None,
    progress: Callable[[str], None] | None = print,
    executor="pool",
    address: str | None = None,
    cpus_per_run: int = 1,
) -> Path:
    """Run study ``name`` into ``out_root/<name>`` (resuming finished runs), then
    write its tables and figures; returns the study's folder. ``executor``,
    ``address`` and ``cpus_per_run`` are :func:`~barenet.experiments.run_sweep`'s
    (``executor`` a name or an :class:`~barenet.experiments.executors.Executor`)."""
    out = Path(out_root) / name
    run_sweep(
        load_study(name),
        out,
        workers=workers,
        quick=quick,
        overrides=overrides,
        run_fn=run_fn or DEFAULT_RUN_FN,
        progress=progress,
        executor=executor,
        address=address,
        cpus_per_run=cpus_per_run,
    )
    files = finish_sweep(out, figures)
    if progress:
        progress(f"study {name}: {len(files)} files in {out}")
    return out
