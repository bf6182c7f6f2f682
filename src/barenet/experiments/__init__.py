"""Experiments: sweeps over training settings, their tables, figures and reports.

- :func:`run_sweep` runs a grid of ``barenet.train.run_training`` calls on worker
  processes, one folder per run, resumable, with failures recorded per run;
- :func:`load_sweep` / :func:`write_tables` / :func:`make_figures` turn the run
  folders into tables (mean ± std over seeds) and figures;
- :func:`run_study` runs one of the shipped studies (:data:`STUDIES`);
- :func:`build_report` writes ``report.md`` and a self-contained ``report.html``.
"""

from .figures import make_figures
from .grid import RunSpec, apply_quick, expand, load_config
from .metrics import METRICS, outcome_sentence
from .report import build_report
from .results import Sweep, load_sweep, summarize, write_tables
from .studies import STUDIES, load_study, run_study
from .sweep import run_sweep

__all__ = [
    "METRICS",
    "STUDIES",
    "RunSpec",
    "Sweep",
    "apply_quick",
    "build_report",
    "expand",
    "load_config",
    "load_study",
    "load_sweep",
    "make_figures",
    "outcome_sentence",
    "run_study",
    "run_sweep",
    "summarize",
    "write_tables",
]
