"""The numbers a study is judged by, and the sentence that states its outcome.

Every sentence is computed from the results table (means and standard deviations
over seeds): which setting came out best, by how much, after how many epochs,
and whether the gap is larger than the seed-to-seed spread. Nothing is canned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .table import Sweep, grad_norm_series, summarize

__all__ = ["MetricSpec", "METRICS", "metric_of", "outcome_sentence", "grad_ratios"]


@dataclass(frozen=True)
class MetricSpec:
    """How to name, format and rank one metric of a study.

    ``in_table``: the metric is a column of the results table (``<key>_mean`` in
    :func:`summarize`), so the generic sentence and the final-vs-setting figure
    apply; ``sentence``: a function ``sweep -> str`` stating the outcome, for a
    metric that needs its own words (``None``: the generic best-vs-worst one)."""

    name: str
    axis: str
    pct: bool
    higher_better: bool
    in_table: bool = True
    sentence: Callable[[Sweep], str] | None = None


def metric_of(sweep: Sweep) -> str:
    """The study's metric: its ``metric`` key, else test MSE or validation accuracy."""
    m = sweep.manifest.get("metric")
    if m:
        if m not in METRICS:
            raise ValueError(f"sweep {sweep.name}: unknown metric {m!r}; known: {sorted(METRICS)}")
        return m
    return "test_mse" if sweep.task == "regression" else "val_acc"


def _fmt(spec: MetricSpec, mean: float, std: float, n: int) -> str:
    if spec.pct:
        return f"{100 * mean:.1f} %" + (f" ± {100 * std:.1f}" if n > 1 else "")
    return f"{mean:.3g}" + (f" ± {std:.2g}" if n > 1 else "")


def grad_ratios(sweep: Sweep) -> dict[str, tuple[float, float, float]]:
    """Point -> (first-layer norm, last-layer norm, first/last) in the first epoch."""
    out = {}
    for point, (_, norms) in grad_norm_series(sweep).items():
        first, last = float(norms[0, 0]), float(norms[0, -1])
        out[point] = (first, last, first / last if last > 0 else float("nan"))
    return out


def _grad_sentence(sweep: Sweep) -> str:
    ratios = grad_ratios(sweep)
    if not ratios:
        return f"{sweep.title}: no gradient norms were recorded."
    parts = [
        f"{r:.2g}x the last layer's with {p} ({a:.2g} vs {b:.2g})"
        for p, (a, b, r) in sorted(ratios.items(), key=lambda kv: kv[1][2])
    ]
    lo, hi = min(v[2] for v in ratios.values()), max(v[2] for v in ratios.values())
    tail = f"; a {hi / lo:.3g}-fold spread between settings" if lo > 0 else ""
    acc = {r["point"]: r for r in summarize(sweep)}
    accs = ", ".join(
        f"{p} {100 * acc[p]['val_acc_mean']:.1f} %"
        for p in ratios
        if acc.get(p, {}).get("val_acc_mean") is not None
    )
    return (
        "In the first epoch the first layer's weight-gradient norm was "
        + "; ".join(parts)
        + tail
        + (f". Final validation accuracy: {accs}." if accs else ".")
    )


METRICS = {
    "val_acc": MetricSpec("validation accuracy", "final validation accuracy (%)", True, True),
    "best_val_acc": MetricSpec(
        "best validation accuracy", "best validation accuracy (%)", True, True
    ),
    "test_acc": MetricSpec("test accuracy", "test accuracy (%)", True, True),
    "val_loss": MetricSpec("final validation loss", "final validation loss", False, False),
    "test_mse": MetricSpec("test MSE", "test MSE", False, False),
    "early_train_loss": MetricSpec(
        "mean training loss over epochs 1-3", "mean training loss, epochs 1-3", False, False
    ),
    "grad_ratio": MetricSpec(
        "first/last layer gradient-norm ratio",
        "ratio",
        False,
        True,
        in_table=False,
        sentence=_grad_sentence,
    ),
}


def outcome_sentence(sweep: Sweep) -> str:
    """One sentence with the measured outcome of ``sweep``, computed from its table."""
    metric = metric_of(sweep)
    spec = METRICS[metric]
    if spec.sentence is not None:
        return spec.sentence(sweep)
    rows = [r for r in summarize(sweep) if r[f"{metric}_mean"] is not None]
    failed = sum(r["failed"] for r in summarize(sweep))
    fail_note = f" ({failed} run{'s' * (failed != 1)} failed)" if failed else ""
    if not rows:
        return f"{sweep.title}: no run finished{fail_note}."
    sign = -1.0 if spec.higher_better else 1.0
    rows.sort(key=lambda r: sign * r[f"{metric}_mean"])
    n = max(r[f"{metric}_n"] for r in rows)
    epochs = rows[0]["epochs_mean"]
    epochs_varied = any(k.split(".")[-1] == "epochs" for k in sweep.varied_keys)
    after = (
        f" after {epochs:.0f} epoch{'s' * (round(epochs) != 1)}"
        if epochs and not epochs_varied
        else ""
    )
    seeds = f" (mean ± std over {n} seeds)" if n > 1 else " (one seed)"
    best, worst = rows[0], rows[-1]
    bm, bs, wm, ws = (
        best[f"{metric}_mean"],
        best[f"{metric}_std"],
        worst[f"{metric}_mean"],
        worst[f"{metric}_std"],
    )
    best_txt = _fmt(spec, bm, bs, best[f"{metric}_n"])
    if len(rows) == 1:
        return f"{best['point']} reached {best_txt} {spec.name}{after}{seeds}{fail_note}."
    worst_txt = _fmt(spec, wm, ws, worst[f"{metric}_n"])
    if spec.pct:
        gap = f"{100 * abs(bm - wm):.1f} points {'above' if spec.higher_better else 'below'}"
    elif wm > 0 and bm > 0 and max(bm, wm) / min(bm, wm) >= 2:
        ratio = max(bm, wm) / min(bm, wm)
        gap = f"{ratio:.3g}x {'higher' if spec.higher_better else 'lower'} than"
    else:
        rel = abs(bm - wm) / abs(wm) * 100 if wm else float("nan")
        gap = f"{rel:.0f} % {'higher' if spec.higher_better else 'lower'} than"
    text = (
        f"{best['point']} reached {best_txt} {spec.name}{after}{seeds}, "
        f"{gap} {worst['point']} ({worst_txt})"
    )
    if len(rows) > 2:
        order = " > ".join(
            f"{r['point']} ({_fmt(spec, r[f'{metric}_mean'], 0.0, 1)})" for r in rows
        )
        text += f"; from best to worst: {order}"
    if n > 1 and abs(bm - wm) <= max(bs, ws, 0.0):
        text += "; the gap is within the seed-to-seed spread"
    return text + fail_note + "."
