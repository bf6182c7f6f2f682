"""What the book's executed blocks share: a figure printed into the page, a Markdown
table, and the figures of recorded runs read from ``recorded.toml``.

The blocks run while MkDocs builds the site (markdown-exec); what they print becomes
the page. Nothing here computes a result: each result is computed in the page itself.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
plt.rcParams.update(
    {"figure.dpi": 96, "svg.fonttype": "path", "axes.grid": True, "grid.alpha": 0.3}
)


def figure(fig, alt: str) -> str:
    """``fig`` as an SVG ``<img>`` (a data URI, so the page needs no other file); the
    block prints it (``html="true"``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = alt.replace('"', "'")
    return f'<img class="book-figure" alt="{alt}" src="data:image/svg+xml;base64,{data}">'


def table(headers, rows) -> str:
    """A Markdown table; the block prints it (markdown-exec renders printed Markdown)."""
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def recorded() -> dict:
    """The figures of runs too long for the build (``docs/recorded.toml``)."""
    return tomllib.loads((HERE / "recorded.toml").read_text(encoding="utf-8"))


def recorded_table(section: str) -> str:
    """One section of ``recorded.toml`` as a Markdown table marked as recorded."""
    sec = recorded()[section]
    rows = [(r["what"], r["result"], f"`{r['command']}`") for r in sec["runs"]]
    return (
        f'<div class="recorded" markdown>\n\n**Recorded, not built.** {sec["note"]}\n\n'
        + table(["what", "result", "command"], rows)
        + "\n</div>\n"
    )


def source(fn) -> str:
    """The source of ``fn`` as a fenced Python block: what the page shows beside a
    formula is the code that runs, read from the installed barenet."""
    import inspect

    return "```python\n" + inspect.getsource(fn).rstrip() + "\n```\n"


def curves(ax, runs: dict, key: str, ylabel: str) -> None:
    """One line per run: ``runs`` maps a label to a list of Histories (seeds); the
    line is their mean of ``key`` per epoch."""
    import numpy as np

    for label, hists in runs.items():
        v = np.mean([h.column(key) for h in hists], axis=0)
        ax.plot(np.arange(1, len(v) + 1), v, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
