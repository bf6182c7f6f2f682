"""The CUDA C of ``barenet.fast.cuda`` compiles: each ElementwiseKernel's body is put
into a ``__global__`` function shaped as CuPy generates them (``T`` a typedef, raw
arrays indexed by a flat index, element-wise parameters bound to references, scalars by
value) and compiled to PTX by nvcc, for float and double. Skipped where nvcc is absent;
no GPU is needed. (CuPy compiles with NVRTC, the same front end.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from barenet.fast.cuda import activation, conv, pool

from .elementwise import _params

NVCC = shutil.which("nvcc")

_PRELUDE = r"""
#include <cstddef>
template <typename T> struct Raw {
    T* data;
    __device__ T& operator[](ptrdiff_t i) { return data[i]; }
    __device__ const T& operator[](ptrdiff_t i) const { return data[i]; }
};
"""
_SCALAR = {
    "int32": "int",
    "int64": "long long",
    "bool": "bool",
    "float32": "float",
    "float64": "double",
}


def _kernel_source(name: str, ins: str, outs: str, body: str, t: str) -> str:
    args, binds = [], []
    params = _params(ins)
    # barenet's kernels either read raw arrays and take sizes as scalars, or (ReLU) read
    # every input element-wise
    elementwise = not any(raw for _, _, raw in params)
    for pname, typ, raw in params:
        ctype = t if typ == "T" else _SCALAR[typ]
        if raw:
            args.append(f"Raw<{ctype}> {pname}")
        elif not elementwise:
            args.append(f"{ctype} {pname}")
        else:
            args.append(f"Raw<{ctype}> {pname}_array")
            binds.append(f"const {ctype} {pname} = {pname}_array[i];")
    for pname, typ, _ in _params(outs):
        ctype = t if typ == "T" else _SCALAR[typ]
        args.append(f"Raw<{ctype}> {pname}_array")
        binds.append(f"{ctype} &{pname} = {pname}_array[i];")
    return (
        f'extern "C" __global__ void {name}_{t}({", ".join(args)}, ptrdiff_t size) {{\n'
        f"    typedef {t} T;\n"
        "    for (ptrdiff_t i = blockIdx.x * blockDim.x + threadIdx.x; i < size;\n"
        "         i += (ptrdiff_t)blockDim.x * gridDim.x) {\n"
        + "".join(f"        {b}\n" for b in binds)
        + body
        + "\n    }\n}\n"
    )


KERNELS = [
    ("im2col", f"raw T img, {conv._SCALARS}", "T col", conv._IM2COL),
    ("col2im", f"raw T col, {conv._SCALARS}", "T img", conv._COL2IM),
    (
        "conv_layout",
        "raw T y2, raw T bias, int32 n, int32 co, int64 hw, bool has_bias",
        "T y",
        conv._LAYOUT,
    ),
    ("maxpool_fwd", f"raw T x, {pool._SCALARS}", "T y, int32 winner", pool._FORWARD),
    ("maxpool_bwd", f"raw T dy, raw int32 winner, {pool._SCALARS}", "T dx", pool._BACKWARD),
]


def _activation_kernels():
    """The ReLU kernels' parameters and bodies, read from the module's source."""
    import inspect
    import re

    src = inspect.getsource(activation._kernels)
    found = re.findall(r'"(T [^"]*)",\s*"([^"]*)",\s*"([^"]*)",\s*"(\w+)"', src)
    assert len(found) == 3, found
    return [(name, ins, outs, body) for ins, outs, body, name in found]


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_the_gpu_kernels_compile_for_float_and_double(tmp_path):
    parts = [_PRELUDE]
    for name, ins, outs, body in KERNELS + _activation_kernels():
        for t in ("float", "double"):
            parts.append(_kernel_source(name, ins, outs, body, t))
    src = tmp_path / "kernels.cu"
    src.write_text("\n".join(parts))
    run = subprocess.run(
        [
            NVCC,
            "-ptx",
            "-arch=compute_80",
            "-Werror",
            "all-warnings",
            "-o",
            str(tmp_path / "kernels.ptx"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    ptx = (tmp_path / "kernels.ptx").read_text()
    assert ptx.count(".entry") == 2 * (len(KERNELS) + 3)
