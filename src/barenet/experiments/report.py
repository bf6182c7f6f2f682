"""``build_report(runs_dir, out_dir)``: one Markdown and one HTML page for every sweep
found under ``runs_dir``.

Per sweep: what ran (data, split sizes and networks, from the runs themselves),
what was varied (and what was held fixed), one sentence stating the
measured outcome (see :func:`barenet.experiments.metrics.outcome_sentence`), the
results table and the figures. ``report.html`` is self-contained: the figures are
inlined as base64 PNG. Both files are written atomically.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from ..io import atomic_write_bytes
from .figures import make_figures
from .grid import format_value
from .metrics import outcome_sentence
from .reported import reported_lines
from .results import fmt_mean_std, runs_cell, write_tables
from .studies import STUDIES
from .table import COLUMNS, Sweep, find_sweeps, load_sweep, summarize

__all__ = ["build_report", "FIGURE_ORDER"]

FIGURE_ORDER = [
    "curves",
    "final",
    "step_loss",
    "fit",
    "grad_flow",
    "confusion",
    "misclassified",
    "filters",
]
_CAPTIONS = {
    "curves": "Training and validation curves (mean over seeds; band: min to max).",
    "final": "The study's metric against the varied setting (error bars: ± std over seeds).",
    "step_loss": "Training loss of every step against images seen (mean over seeds).",
    "fit": "Fitted curves over the training data.",
    "grad_flow": "Weight-gradient norm of each layer: against depth (top) and over training "
    "(bottom).",
    "confusion": "Confusion matrix of the best run on the test set.",
    "misclassified": "Test images the best run got wrong.",
    "filters": "The first convolution layer's filters of the best run.",
}
_FIXED_KEYS = (
    "model",
    "model_args",
    "data",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "limit_train",
    "invert",
    "init",
    "augment",
)
_REPORT_SKIP = {"test_loss"}  # in results.csv; the page keeps to the columns people compare
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #444;padding-bottom:.2em}
h2{margin-top:2.2em;border-bottom:1px solid #ccc;padding-bottom:.15em}
table{border-collapse:collapse;margin:1em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:right}
td{white-space:nowrap}
.scroll{overflow-x:auto}
th:first-child,td:first-child{text-align:left}
th{background:#f0f0f0}
tr:nth-child(even) td{background:#fafafa}
.outcome{background:#eef5ff;border-left:4px solid #3a7bd5;padding:.6em 1em}
figure{margin:1.2em 0}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
.toc li{margin:.3em 0}
a{color:#2a5db0}
"""


def _varied_text(sweep: Sweep) -> tuple[str, str]:
    keys = sweep.varied_keys
    values: dict[str, list[str]] = {k: [] for k in keys}
    for r in sweep.runs:
        for k in keys:
            v = format_value(r.varied.get(k))
            if v not in values[k]:
                values[k].append(v)
    varied = "; ".join(f"`{k}` ∈ {{{', '.join(v)}}}" for k, v in values.items()) or "nothing"
    first = sweep.runs[0].settings if sweep.runs else {}
    fixed = [
        f"`{k}` = {format_value(first[k])}"
        for k in _FIXED_KEYS
        if k in first and k not in keys and not any(v.startswith(k + ".") for v in keys)
    ]
    seeds = sorted({r.seed for r in sweep.runs})
    fixed.append(f"seeds {', '.join(map(str, seeds))}")
    return varied, ", ".join(fixed)


def _ran_text(sweep: Sweep) -> str:
    """What the finished runs were, from their metrics: data, split sizes and
    network(s) (a quick run differs from what the study's description states)."""
    done = [r for r in sweep.runs if r.status == "done" and r.metrics]
    if not done:
        return ""

    def count(key: str, runs: list) -> str:
        vals = sorted({int(r.metrics[key]) for r in runs if r.metrics.get(key) is not None})
        if not vals:
            return ""
        return f"{vals[0]:,}" if len(vals) == 1 else f"{vals[0]:,}–{vals[-1]:,}"

    def split(data: str, runs: list) -> str:
        parts = [
            f"{c} {w}"
            for k, w in (("n_train", "train"), ("n_val", "validation"), ("n_test", "test"))
            if (c := count(k, runs)) not in ("", "0")
        ]
        return f"`{data}`" + (f" ({' / '.join(parts)} samples)" if parts else "")

    def net(m: dict) -> str:
        arch = m.get("architecture") or ""
        n = m.get("num_parameters")
        return f"`{m.get('model', '?')}` {arch}".strip() + (f" ({n:,} parameters)" if n else "")

    by_data: dict[str, list] = {}
    for r in done:
        by_data.setdefault(str(r.metrics.get("data", "?")), []).append(r)
    datas = [split(d, runs) for d, runs in by_data.items()]
    nets: dict[str, list[str]] = {}
    for r in done:
        points = nets.setdefault(net(r.metrics), [])
        if r.point not in points:
            points.append(r.point)
    text = "on " + "; ".join(datas)
    if len(nets) == 1:
        return f"{next(iter(nets))} {text}"
    return f"{text}; networks: " + "; ".join(f"{', '.join(p)}: {n}" for n, p in nets.items())


def _figures(sweep: Sweep, refresh: bool) -> list[Path]:
    fig_dir = sweep.path / "figures"
    have = {p.stem: p for p in fig_dir.glob("*.png")} if fig_dir.is_dir() else {}
    if refresh or not have:
        have = {p.stem: p for p in make_figures(sweep, fig_dir)}
    return [have[k] for k in FIGURE_ORDER if k in have]


def _table_rows(sweep: Sweep) -> tuple[list[str], list[list[str]]]:
    rows = summarize(sweep)
    cols = [
        c
        for c in COLUMNS
        if c[0] not in _REPORT_SKIP and any(r[f"{c[0]}_mean"] is not None for r in rows)
    ]
    head = ["setting", "runs"] + [h for _, h, _ in cols]
    body = []
    for r in rows:
        runs = runs_cell(r)
        body.append(
            [r["point"], runs]
            + [fmt_mean_std(r[f"{k}_mean"], r[f"{k}_std"], r[f"{k}_n"], p) for k, _, p in cols]
        )
    return head, body


def _order(sweeps: list[Sweep]) -> list[Sweep]:
    """The shipped studies in their order, then the other sweeps by folder."""

    def key(sweep: Sweep):
        name = sweep.name
        return (STUDIES.index(name) if name in STUDIES else len(STUDIES), str(sweep.path))

    return sorted(sweeps, key=key)


def build_report(
    runs_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    title: str = "barenet experiments",
    refresh: bool = False,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` for every sweep under ``runs_dir`` into
    ``out_dir`` (default ``runs_dir``); returns their paths. Figures missing from a
    sweep (or all, with ``refresh``) are drawn first; tables are rewritten."""
    runs_dir = Path(runs_dir)
    out = Path(out_dir) if out_dir is not None else runs_dir
    sweeps = _order([load_sweep(p) for p in find_sweeps(runs_dir)])
    if not sweeps:
        raise FileNotFoundError(f"report: no sweep.json under {runs_dir}")
    what = f"{len(sweeps)} stud{'ies' if len(sweeps) != 1 else 'y'}"
    md = [f"# {title}\n", f"{what} from `{runs_dir}`. In short:\n"]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{what} from <code>{html.escape(str(runs_dir))}</code>. In short:</p>",
    ]
    toc_at, items = len(body), []
    for i, sweep in enumerate(sweeps):
        write_tables(sweep)
        varied, fixed = _varied_text(sweep)
        sentence = outcome_sentence(sweep)
        head, rows = _table_rows(sweep)
        figs = _figures(sweep, refresh)
        quick = " (quick run)" if sweep.manifest.get("quick") else ""
        desc = str(sweep.manifest.get("description", "")).strip()
        md.insert(
            2 + i, f"- **{sweep.title}**: {sentence}" + ("\n" if i == len(sweeps) - 1 else "")
        )
        items.append(
            f"<li><a href='#s{i}'>{html.escape(sweep.title)}</a>: {html.escape(sentence)}</li>"
        )
        md += [f"## {sweep.title}{quick}\n"]
        body += [f"<h2 id='s{i}'>{html.escape(sweep.title + quick)}</h2>"]
        if desc:
            md.append(desc + "\n")
            body.append(f"<p>{html.escape(desc)}</p>")
        ran = _ran_text(sweep)
        if ran:
            md.append(f"**Ran:** {ran}.\n")
            body.append(f"<p><b>Ran:</b> {_code(ran)}.</p>")
        md += [f"**Varied:** {varied}. **Fixed:** {fixed}.\n", f"**Outcome:** {sentence}\n"]
        body += [
            f"<p><b>Varied:</b> {_code(varied)}. <b>Fixed:</b> {_code(fixed)}.</p>",
            f"<p class='outcome'><b>Outcome:</b> {html.escape(sentence)}</p>",
        ]
        reported = reported_lines(sweep)
        if reported:
            md.append("**The report and here:**\n")
            md += [f"- {line}" for line in reported] + [""]
            body.append(
                "<p><b>The report and here:</b></p><ul>"
                + "".join(f"<li>{html.escape(line)}</li>" for line in reported)
                + "</ul>"
            )
        md.append("| " + " | ".join(head) + " |\n|" + "|".join(["---"] * len(head)) + "|")
        md += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
        md.append("")
        body.append(
            "<div class='scroll'><table><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + "</tr>"
            + "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
            )
            + "</table></div>"
        )
        for fig in figs:
            cap = _CAPTIONS.get(fig.stem, fig.stem)
            rel = os.path.relpath(fig, out)
            md.append(f"![{cap}]({Path(rel).as_posix()})\n\n*{cap}*\n")
            data = base64.b64encode(fig.read_bytes()).decode()
            body.append(
                f"<figure><img alt='{html.escape(cap)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(cap)}</figcaption></figure>"
            )
    body.insert(toc_at, "<ul class='toc'>" + "".join(items) + "</ul>")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    md_path, html_path = out / "report.md", out / "report.html"
    atomic_write_bytes(md_path, ["\n".join(md).encode()])
    atomic_write_bytes(html_path, [page.encode()])
    return md_path, html_path


def _code(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
