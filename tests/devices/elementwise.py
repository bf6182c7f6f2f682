"""CuPy's ``ElementwiseKernel`` emulated on the CPU, for the fake CuPy: the kernel's C
body is translated into Python and run once per output element, so that the index
arithmetic of ``barenet.fast.cuda`` is checked against the reference kernels without
a GPU (on tiny shapes: it is slow).

The translation covers the C the kernels use: declarations (``const int``, ``long long``,
``T``, ``T*`` to an element of a raw array), ``;``-separated statements, ``for (int r =
0; r < n; ++r) {`` loops, ``if (...) continue;`` and one-line ``if (...) { ...; }``,
``?:``, ``&&``/``||``, integer ``/`` and ``%`` (on the non-negative numbers the kernels
divide), ``isnan`` and ``(T)`` casts. Anything else raises, so a kernel that outgrows it
fails loudly instead of being checked wrongly.
"""

from __future__ import annotations

import math
import re

import numpy as np

_DTYPES = {
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
    "float32": np.float32,
    "float64": np.float64,
}
_DECL = re.compile(r"^(?:const\s+)?(?:long long|int|bool|T)\s*(\*)?\s+(\w+)\s*=\s*(.*)$")
_FOR = re.compile(r"^for \(int (\w+) = (.+?); \1 < (.+?); \+\+\1\) \{$")
_IF_CONTINUE = re.compile(r"^if \((.*)\) continue$")
_IF_BLOCK = re.compile(r"^if \((.*)\) \{ (.*); \}$")
_TERNARY = re.compile(r"^(\w+) = (.+?) \? (.+) : (.+)$")


def _params(text: str):
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        words = part.split()
        raw = words[0] == "raw"
        typ, name = words[-2], words[-1]
        out.append((name, typ, raw))
    return out


def _expr(e: str, pointers: dict[str, str]) -> str:
    e = e.strip()
    for ptr, arr in pointers.items():  # base[k] -> x[base + (k)]
        e = re.sub(rf"\b{ptr}\[", f"{arr}[{ptr} + ", e)
    e = e.replace("(T)0", "0.0").replace("&&", " and ").replace("||", " or ")
    e = re.sub(r"\(T\)(\w+)", r"float(\1)", e)
    e = re.sub(r"(?<![/])/(?![/=])", "//", e)
    e = e.replace("isnan(", "_isnan(")
    if "?" in e or "{" in e or "&" in e.replace(" and ", ""):
        raise ValueError(f"elementwise emulator: cannot translate {e!r}")
    return e


def translate(body: str) -> str:
    """The Python of a kernel body (see the module docstring for what it covers)."""
    lines, depth, pointers = [], 0, {}
    for raw_line in body.strip().splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line == "}":
            depth -= 1
            continue
        m = _FOR.match(line)
        if m:
            var, lo, hi = m.groups()
            lines.append(
                "    " * depth + f"for {var} in range({_expr(lo, pointers)}, "
                f"{_expr(hi, pointers)}):"
            )
            depth += 1
            continue
        m = _IF_BLOCK.match(line.rstrip(";").strip())
        if m:
            lines.append("    " * depth + f"if {_expr(m.group(1), pointers)}:")
            for stmt in m.group(2).split(";"):
                lines.append("    " * (depth + 1) + _statement(stmt, pointers))
            continue
        for stmt in line.split(";"):
            if stmt.strip():
                lines.append("    " * depth + _statement(stmt, pointers))
    if depth != 0:
        raise ValueError("elementwise emulator: unbalanced braces")
    return "\n".join(lines)


def _statement(stmt: str, pointers: dict[str, str]) -> str:
    stmt = stmt.strip()
    m = _IF_CONTINUE.match(stmt)
    if m:
        return f"if {_expr(m.group(1), pointers)}: continue"
    m = re.match(r"^if \((.*)\) (\w.*)$", stmt)
    if m:  # if (cond) statement;
        return f"if {_expr(m.group(1), pointers)}: {_statement(m.group(2), pointers)}"
    m = _DECL.match(stmt)
    if m:
        star, name, value = m.groups()
        if star:  # T* base = &x[index]: an offset into x
            arr, index = re.match(r"^&(\w+)\[(.*)\]$", value.strip()).groups()
            pointers[name] = arr
            return f"{name} = {_expr(index, pointers)}"
        stmt = f"{name} = {value}"
    m = re.match(r"^(\w+) (/|%|\+|-|\*)= (.*)$", stmt)
    if m:
        name, op, value = m.groups()
        op = "//" if op == "/" else op
        return f"{name} {op}= {_expr(value, pointers)}"
    m = _TERNARY.match(stmt)
    if m:
        name, cond, a, b = m.groups()
        a, cond, b = (_expr(v, pointers) for v in (a, cond, b))
        return f"{name} = ({a}) if ({cond}) else ({b})"
    m = re.match(r"^(\w+) = (.*)$", stmt)
    if m:
        return f"{m.group(1)} = {_expr(m.group(2), pointers)}"
    raise ValueError(f"elementwise emulator: cannot translate {stmt!r}")


def _isnan(v) -> bool:
    return math.isnan(v)


def make_elementwise_kernel(cp):
    """An ``ElementwiseKernel`` class for the fake CuPy module ``cp``."""

    class ElementwiseKernel:
        def __init__(self, in_params: str, out_params: str, operation: str, name: str):
            self.ins, self.outs, self.name = _params(in_params), _params(out_params), name
            self.python = translate(operation)
            self.code = compile(self.python, f"<{name}>", "exec")

        def __call__(self, *args):
            n_in = len(self.ins)
            ins, outs = args[:n_in], list(args[n_in:])
            elementwise = [a for (_, _, raw), a in zip(self.ins, ins) if not raw]
            like = outs[0] if outs else elementwise[0]
            for (_, typ, _), k in zip(self.outs[len(outs) :], range(len(outs), len(self.outs))):
                del k
                dtype = like.dtype if typ == "T" else _DTYPES[typ]
                outs.append(cp.empty(like.shape, dtype=dtype))
            size = outs[0].size
            env: dict = {"_isnan": _isnan}
            for (name, _, raw), a in zip(self.ins, ins):
                if raw:
                    env[name] = np.asarray(a).ravel()
                elif hasattr(a, "shape"):
                    env[f"_{name}"] = np.asarray(a).ravel()
                else:
                    env[name] = a
            flat = [np.asarray(o).ravel() for o in outs]
            for i in range(size):
                env["i"] = i
                for (name, _, raw), a in zip(self.ins, ins):
                    if not raw and hasattr(a, "shape"):
                        env[name] = env[f"_{name}"][i].item()
                exec(self.code, env)
                for (name, _, _), f in zip(self.outs, flat):
                    f[i] = env[name]
            for o, f in zip(outs, flat):
                o[...] = f.reshape(o.shape)
            return outs[0] if len(outs) == 1 else tuple(outs)

    return ElementwiseKernel
