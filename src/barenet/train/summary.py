"""``summary(model, input_shape)``: a table of layers, output shapes, parameters and
FLOPs per image, like Keras' ``model.summary()``.

FLOP convention: 2 x multiply-adds of Linear and Conv2d layers only (bias adds,
activations, pooling and normalisation are not counted), for one image forward.
Shapes come from one zero forward pass of a single sample in eval mode.
"""

from __future__ import annotations

import numpy as np

from ..core.module import Module

__all__ = ["layer_table", "summary"]


def _flops(m: Module, in_shape: tuple, out_shape: tuple) -> int:
    name = type(m).__name__
    if name == "Linear":
        return 2 * int(m.in_features) * int(m.out_features)
    if name == "Conv2d":
        kh, kw = m.kernel_size
        return 2 * m.in_channels * kh * kw * int(np.prod(out_shape))
    return 0


def layer_table(model: Module, input_shape) -> list[dict]:
    """One row per leaf layer: ``name, layer, output_shape, params, flops``."""
    shape = tuple(int(s) for s in input_shape)
    rows: list[dict] = []
    wrapped = []
    for name, m in model.named_modules():
        if next(m.children(), None) is not None:
            continue

        def fwd(x, _m=m, _name=name, _orig=m.forward):
            y = _orig(x)
            rows.append(
                {
                    "name": _name or type(_m).__name__,
                    "layer": _m._label(),
                    "output_shape": tuple(y.shape[1:]),
                    "params": sum(p.size for p in _m.parameters()),
                    "flops": _flops(_m, tuple(x.shape[1:]), tuple(y.shape[1:])),
                }
            )
            return y

        object.__setattr__(m, "forward", fwd)
        wrapped.append(m)
    was_training = model.training
    model.eval()
    try:
        model.forward(np.zeros((1, *shape), dtype=model.dtype))
    except ValueError as exc:
        raise ValueError(f"summary: the model does not accept input {shape}: {exc}") from None
    finally:
        for m in wrapped:
            del m.__dict__["forward"]
            m._clear_cache()
        model.train(was_training)
    return rows


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
