"""Max and average pooling over kh x kw windows with stride (sh, sw), no padding.

Rows and columns that do not fill a whole window are dropped, as in PyTorch (floor
mode). The kernels are ``reference.pool`` (a loop over the window offsets) or
``fast.cpu.pool``.
"""

from __future__ import annotations

from ..core.checks import as_input, check_backward, pair
from ..core.dispatch import kernels_for
from ..core.module import Module, register
from ..reference.conv import out_size


class _Pool2d(Module):
    _family = ""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, name, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, name, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"{name}: kernel and stride must be positive, got "
                f"kernel={kernel_size}, stride={stride}"
            )
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def output_shape(self, in_shape):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return tuple(in_shape[:2]) + (
            out_size(in_shape[2], kh, sh, 0, 0),
            out_size(in_shape[3], kw, sw, 0, 0),
        )

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim != 4:
            raise ValueError(f"{self._label()}: expected (N, C, H, W), got {tuple(x.shape)}")
        out_shape = self.output_shape(x.shape)
        if min(out_shape[2:]) < 1:
            kh, kw = self.kernel_size
            raise ValueError(
                f"{self._label()}: input {x.shape[2]}x{x.shape[3]} is smaller than the "
                f"{kh}x{kw} window"
            )
        kernels = kernels_for(self._family, x)
        y, cache = kernels.forward(x, self.kernel_size, self.stride)
        self._kernels, self._cache, self._out_shape = kernels, cache, out_shape
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        return self._kernels.backward(dy, self._cache)

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    def _label(self):
        k, s = self.kernel_size, self.stride
        return f"{type(self).__name__}({k[0]}x{k[1]}, stride {s[0]}x{s[1]})"


@register
class MaxPool2d(_Pool2d):
    """$y_{n,c,p,q}$ = max over the window;  dx routes dy to the winner of each window.

    Ties send the whole gradient to the first maximum in row-major order, and a window
    holding NaN gives NaN, its gradient going to the last NaN (as PyTorch).
    """

    _family = "maxpool2d"


@register
class AvgPool2d(_Pool2d):
    """$y_{n,c,p,q}$ = mean over the window;  dx gets $dy / (k_h k_w)$ at every window
    position."""

    _family = "avgpool2d"


@register
class GlobalAvgPool2d(Module):
    """(N, C, H, W) → (N, C): the mean of each channel;  $dx = dy / (H W)$ everywhere."""

    def __init__(self):
        super().__init__()
        self._clear_cache()

    def _clear_cache(self):
        self._kernels = self._cache = self._out_shape = None

    def forward(self, x):
        x = as_input(self, x)
        if x.ndim != 4:
            raise ValueError(f"{self._label()}: expected (N, C, H, W), got {tuple(x.shape)}")
        kernels = kernels_for("global_avgpool2d", x)
        y, cache = kernels.forward(x)
        self._kernels, self._cache, self._out_shape = kernels, cache, x.shape[:2]
        return y

    def backward(self, dy):
        dy = check_backward(self, dy, self._out_shape)
        return self._kernels.backward(dy, self._cache)

    def output_shape(self, in_shape):
        return tuple(in_shape[:2]) if len(in_shape) == 4 else None
