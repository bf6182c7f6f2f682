"""A :class:`~barenet.doctor.trace.TraceReport` as a text table and as a self-contained
HTML page (inline CSS and SVG histograms, nothing loaded from the network)."""

from __future__ import annotations

import html
import math
import os

from ..io import atomic_open

__all__ = ["format_trace", "trace_html", "write_trace_html"]


def _g(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.3g}"


def _shape(stats) -> str:
    return "-" if stats is None else "x".join(map(str, stats.shape))


def _stat_cells(s) -> list[str]:
    if s is None:
        return ["-"] * 6
    cells = [_g(s.mean), _g(s.std), _g(s.min), _g(s.max), f"{s.zeros:.0%}"]
    cells.append(str(s.nonfinite) if s.nonfinite else "")
    return cells


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w[i]) if i < 2 else h.rjust(w[i]) for i, h in enumerate(head))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)))
    return out


def _where(rep) -> str:
    if rep.first_nonfinite is None:
        return "no NaN or inf anywhere"
    name, phase = rep.first_nonfinite
    return f"first NaN/inf: {name}, in the {phase} pass"


def format_trace(rep) -> str:
    """The three tables: forward (output statistics), backward (incoming gradient dL/dy)
    and parameters (norms and |dL/dw| / |w|)."""
    loss = "not computed" if rep.loss is None else f"{rep.loss:.6g}"
    mode = "training" if rep.training else "eval"
    lines = [f"loss {loss} ({rep.loss_name}), batch {rep.batch}, {mode} mode; {_where(rep)}", ""]
    stat_head = ["mean", "std", "min", "max", "zeros", "nan/inf"]
    fwd = []
    if rep.rows:
        fwd.append(["(input)", "", _shape(rep.rows[0].input), *_stat_cells(rep.rows[0].input)])
    fwd += [[r.name, r.layer, _shape(r.output), *_stat_cells(r.output)] for r in rep.rows]
    lines.append("forward: each layer's output")
    lines += _table(["layer", "type", "shape", *stat_head], fwd)
    lines += ["", "backward: the gradient each layer receives (dL/dy)"]
    bwd = [[r.name, r.layer, _shape(r.grad), *_stat_cells(r.grad)] for r in reversed(rep.rows)]
    lines += _table(["layer", "type", "shape", *stat_head], bwd)
    par = [
        [f"{r.name}.{p.name}" if r.name else p.name, r.layer, "x".join(map(str, p.shape)),
         _g(p.norm), _g(p.grad_norm), _g(p.ratio)]
        for r in rep.rows for p in r.params
    ]  # fmt: skip
    if par:
        lines += ["", "parameters"]
        lines += _table(["parameter", "type", "shape", "|w|", "|dL/dw|", "|dL/dw|/|w|"], par)
    return "\n".join(lines)


def _svg(stats, colour: str) -> str:
    """An inline SVG histogram of ``stats`` (160 x 48)."""
    if stats is None or not stats.counts:
        return '<span class="none">-</span>'
    w, h = 160, 48
    top = max(stats.counts) or 1
    bw = w / len(stats.counts)
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{h - c / top * (h - 2):.1f}" width="{bw - 0.5:.1f}" '
        f'height="{c / top * (h - 2):.1f}" fill="{colour}"/>'
        for i, c in enumerate(stats.counts)
    )
    title = html.escape(f"{_g(stats.edges[0])} .. {_g(stats.edges[-1])}")
    return (
        f'<svg width="{w}" height="{h + 12}" viewBox="0 0 {w} {h + 12}" role="img">'
        f"<title>{title}</title>{bars}"
        f'<text x="0" y="{h + 11}" font-size="9">{html.escape(_g(stats.edges[0]))}</text>'
        f'<text x="{w}" y="{h + 11}" font-size="9" text-anchor="end">'
        f"{html.escape(_g(stats.edges[-1]))}</text></svg>"
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:middle}
td{white-space:nowrap}
td.l,th.l{text-align:left}.bad{background:#fdd}.none{color:#999}
"""


def trace_html(rep, title: str = "barenet trace") -> str:
    """The page: the summary line, one row per layer with its statistics and the
    histograms of its output and of its incoming gradient, and the parameter table."""
    e = html.escape
    first = rep.first_nonfinite[0] if rep.first_nonfinite else None
    rows = []
    for r in rep.rows:
        cls = ' class="bad"' if r.name == first else ""
        cells = "".join(f"<td>{e(c)}</td>" for c in _stat_cells(r.output)[:5])
        gcells = "".join(f"<td>{e(c)}</td>" for c in _stat_cells(r.grad)[:5])
        rows.append(
            f"<tr{cls}><td class=l>{e(r.name)}</td><td class=l>{e(r.layer)}</td>"
            f"<td>{e(_shape(r.output))}</td>{cells}<td>{_svg(r.output, '#4477aa')}</td>"
            f"{gcells}<td>{_svg(r.grad, '#cc6677')}</td></tr>"
        )
    stat = "".join(f"<th>{h}</th>" for h in ("mean", "std", "min", "max", "zeros"))
    params = "".join(
        f"<tr><td class=l>{e(r.name)}.{e(p.name)}</td><td>{e('x'.join(map(str, p.shape)))}</td>"
        f"<td>{e(_g(p.norm))}</td><td>{e(_g(p.grad_norm))}</td><td>{e(_g(p.ratio))}</td></tr>"
        for r in rep.rows
        for p in r.params
    )
    loss = "not computed" if rep.loss is None else f"{rep.loss:.6g}"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><p>loss {e(loss)} ({e(rep.loss_name)}), batch {rep.batch}, "
        f"{'training' if rep.training else 'eval'} mode; {e(_where(rep))}</p>"
        "<table><tr><th class=l rowspan=2>layer</th><th class=l rowspan=2>type</th>"
        "<th rowspan=2>output shape</th><th colspan=6>output</th>"
        "<th colspan=6>incoming gradient dL/dy</th></tr>"
        f"<tr>{stat}<th>histogram</th>{stat}<th>histogram</th></tr>{''.join(rows)}</table>"
        "<h2>parameters</h2><table><tr><th class=l>parameter</th><th>shape</th><th>|w|</th>"
        f"<th>|dL/dw|</th><th>|dL/dw| / |w|</th></tr>{params}</table></body></html>\n"
    )


def write_trace_html(rep, path: str | os.PathLike, title: str = "barenet trace") -> None:
    """Write :func:`trace_html` to ``path`` atomically (a temporary file renamed)."""

    with atomic_open(path, "w") as f:
        f.write(trace_html(rep, title))
