"""``summary(model, input_shape)``: a table of layers, output shapes, parameters and
FLOPs per image, like Keras' ``model.summary()``.

FLOPs are each layer's ``Module.flops``: 2 x multiply-adds of the layers that multiply
(Linear, Conv2d; bias adds, activations, pooling and normalisation are not counted), for
one image forward. Shapes come from one zero forward pass of a single sample in eval
mode (``core.hooks.probe``).
"""

from __future__ import annotations

from ..core.hooks import probe
from ..core.module import Module

__all__ = ["layer_table", "summary"]


def layer_table(model: Module, input_shape) -> list[dict]:
    """One row per leaf layer: ``name, layer, output_shape, params, flops``."""
    try:
        leaves = probe(model, input_shape)
    except ValueError as exc:
        shape = tuple(int(s) for s in input_shape)
        raise ValueError(f"summary: the model does not accept input {shape}: {exc}") from None
    return [
        {
            "name": row.name or type(row.module).__name__,
            "layer": row.module._label(),
            "output_shape": row.out_shape,
            "params": sum(p.size for p in row.module.parameters()),
            "flops": row.module.flops(row.in_shape),
        }
        for row in leaves
    ]


def summary(model: Module, input_shape) -> str:
    """The table as text, with totals (parameters equal ``model.num_parameters()``)."""
    rows = layer_table(model, input_shape)
    head = ("#", "name", "layer", "output shape", "params", "FLOPs")
    lines = [
        (
            str(i),
            r["name"],
            r["layer"],
            "x".join(map(str, r["output_shape"])),
            f"{r['params']:,}",
            f"{r['flops']:,}",
        )
        for i, r in enumerate(rows)
    ]
    widths = [
        max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)
    ]
    widths[2] = min(widths[2], 48)

    def fmt(cells):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            c = c if len(c) <= w else c[: w - 1] + "…"
            out.append(c.rjust(w) if i in (0, 4, 5) else c.ljust(w))
        return "  ".join(out).rstrip()

    rule = "-" * len(fmt(head))
    total_p = model.num_parameters()
    total_f = sum(r["flops"] for r in rows)
    n_bytes = sum(p.data.nbytes for p in model.parameters())
    text = [
        f"{type(model).__name__} on input {'x'.join(map(str, input_shape))}",
        rule,
        fmt(head),
        rule,
        *(fmt(l) for l in lines),
        rule,
        f"Total parameters: {total_p:,} ({n_bytes / 2**20:.2f} MiB as {model.dtype})",
        f"Total FLOPs per image: {total_f:,} (2 x multiply-adds of Linear/Conv2d, forward)",
    ]
    return "\n".join(text)
