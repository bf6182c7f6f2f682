"""Module, Parameter and the two containers, Sequential and Residual.

A network is a tree of modules. Each module has ``forward(x)``, which caches what
its backward needs and returns y, and ``backward(dy)``, which adds dL/dθ into the
``.grad`` of its own parameters and returns dL/dx. There is no tape and no graph.

Parameter, buffer and child names are derived from the attributes a module sets,
in the order it sets them, so ``state_dict()`` keys follow PyTorch's
(``"0.weight"``, ``"2.body.1.running_mean"``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from .backend import array_module
from .config import get_default_dtype
from .device import as_numpy, device_of, is_device_name, parse_device, to_device
from .hooks import probe

_REGISTRY: dict[str, type[Module]] = {}


def register(cls: type[Module]) -> type[Module]:
    """Class decorator: make a layer buildable from its JSON spec by name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_types() -> dict[str, type[Module]]:
    """Every module type a spec (and so a model file) can name, by name."""
    return dict(_REGISTRY)


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def resolve(spec) -> tuple[type[Module], dict]:
    """The registered class and the config dict of a module spec, both checked:
    ``{"type": str, "config": dict}`` (config may be left out)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"build: a module spec is a dict with a 'type', got {_short(spec)}")
    name = spec["type"]
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"build: unknown layer type {_short(name)}; known: {sorted(_REGISTRY)}")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"build: the config of {name} must be a dict, got {_short(config)}")
    return cls, config


def build(spec: dict) -> Module:
    """Rebuild a module from ``module.spec()``: ``{"type": name, "config": {...}}``."""
    cls, config = resolve(spec)
    return cls.from_config(config)


def spec_state_shapes(spec: dict) -> dict[str, tuple[int, ...]]:
    """State-dict names and shapes of the module ``build(spec)`` would give.

    Uses each class's :meth:`Module.state_shapes`, so the layers that hold large arrays
    are described without allocating them; a class that cannot say is built to find out.
    """
    cls, config = resolve(spec)
    shapes = cls.state_shapes(config)
    if shapes is None:
        module = cls.from_config(config)
        shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    return shapes


class Parameter:
    """A trainable array: ``data`` and its gradient ``grad`` (same shape, same dtype)."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray, dtype=None):
        xp = array_module(data)  # a CuPy array stays on its GPU
        arr = xp.array(data, dtype=dtype if dtype is not None else None, copy=True)
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        self.data = arr
        self.grad = xp.zeros_like(arr)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data`` (and of ``grad``)."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """dtype of ``data`` (and of ``grad``)."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements of ``data``."""
        return self.data.size

    @property
    def device(self) -> str:
        """Where ``data`` and ``grad`` live: ``"cpu"`` or ``"cuda:N"``."""
        return device_of(self.data)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 in place."""
        self.grad[...] = 0

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and container.

    A layer defines ``forward`` and ``backward``; ``flops`` when it multiplies; and
    ``init_weight``, the name of the parameter ``init.apply`` re-initialises (its
    ``bias``, when present, is zeroed).
    """

    init_weight: str | None = None

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        # False: the caller does not want dL/dx (the input is data), so backward may skip
        # computing it and return None. Training loops set it on the model they train.
        object.__setattr__(self, "needs_input_grad", True)
        object.__setattr__(self, "_param_names", [])
        object.__setattr__(self, "_buffer_names", [])
        object.__setattr__(self, "_module_names", [])

    # -- attribute bookkeeping ------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_param_names" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before setting attributes"
            )
        if isinstance(value, Parameter):
            if name not in self._param_names:
                self._param_names.append(name)
        elif isinstance(value, Module):
            if name not in self._module_names:
                self._module_names.append(name)
        elif value is None:
            # Setting an optional parameter or child to None removes it.
            if name in self._param_names:
                self._param_names.remove(name)
            if name in self._module_names:
                self._module_names.remove(name)
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Register a non-trainable array that belongs in the state dict."""
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        object.__setattr__(self, name, value)

    # -- the two methods every module defines --------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """y for input x, caching what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dx for dy = dL/dy of the last forward; adds dL/dθ into each ``.grad``."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- the tree -------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of each direct child, in the order they were set."""
        for name in self._module_names:
            yield name, self.__dict__[name]

    def children(self) -> Iterator[Module]:
        """Each direct child, in order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(name, module) of this module (named ``prefix``) and every module below it, depth
        first: ``""``, ``"0"``, ``"2.body"``, ``"2.body.0"``, ..."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, depth first."""
        for _, m in self.named_modules():
            yield m

    def leaves(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of every module without children, in tree order; a module
        with no children is its own only leaf, named ""."""
        for name, m in self.named_modules():
            if not m._module_names:
                yield name, m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(name, Parameter) of every parameter in the tree, named as in the state dict
        (``"0.weight"``, ``"2.body.0.bias"``)."""
        for mod_name, mod in self.named_modules(prefix):
            for p in mod._param_names:
                yield (f"{mod_name}.{p}" if mod_name else p), mod.__dict__[p]

    def parameters(self) -> list[Parameter]:
        """Every Parameter in the tree, in ``named_parameters`` order: what an optimizer is
        given."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """(name, array) of every buffer in the tree (BatchNorm's running statistics)."""
        for mod_name, mod in self.named_modules(prefix):
            for b in mod._buffer_names:
                yield (f"{mod_name}.{b}" if mod_name else b), mod.__dict__[b]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (``backward`` adds into them)."""
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        """Number of trainable numbers in the tree."""
        return sum(p.size for p in self.parameters())

    def flops(self, in_shape: tuple[int, ...]) -> int:
        """2 x the multiply-adds of one forward pass of one sample of ``in_shape`` (batch
        excluded). Layers that multiply (Linear, Conv2d) override this; others count 0
        (bias adds, activations, pooling and normalisation are not counted). A module
        with children sums its leaves, each on the shape it receives."""
        if not self._module_names:
            return 0
        return sum(row.module.flops(row.in_shape) for row in probe(self, in_shape))

    # -- modes and precision --------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False``: evaluation) on this module and every module
        below it; Dropout and BatchNorm read it. Returns the module."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``. Returns the module."""
        return self.train(False)

    def to(self, device_or_dtype, dtype=None) -> Module:
        """Move to a device and/or convert to a float dtype, in place; returns the module.

        ``to("cuda")``, ``to("cuda:1")``, ``to("cpu")``, ``to(np.float64)`` or
        ``to("cuda", np.float64)``: parameters, their grads and buffers (BatchNorm's
        running statistics) go to the device, float ones in ``dtype``. Everything is
        checked and copied before anything is replaced, so a failure leaves the module
        as it was. A GPU needs CuPy (``GPUUnavailableError`` without it).
        """
        if is_device_name(device_or_dtype):
            device = parse_device(device_or_dtype)
        else:
            device, dtype = None, device_or_dtype if dtype is None else dtype
            if dtype is None:
                raise TypeError(f"{type(self).__name__}.to: expected a device or a dtype")
        try:
            dt = None if dtype is None else np.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"{type(self).__name__}.to: expected a device ('cpu', 'cuda', 'cuda:N') or a "
                f"float dtype, got {dtype!r:.60}"
            ) from None
        if dt is not None and dt.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: expected a float dtype, got {dt}")

        def convert(a):
            if dt is not None and a.dtype.kind == "f":
                a = a.astype(dt, copy=False)
            return a if device is None else to_device(a, device)

        staged = []
        for m in self.modules():
            params = [
                (n, convert(m.__dict__[n].data), convert(m.__dict__[n].grad))
                for n in m._param_names
            ]
            buffers = [(n, convert(m.__dict__[n])) for n in m._buffer_names]
            staged.append((m, params, buffers))
        for m, params, buffers in staged:
            for name, data, grad in params:
                p = m.__dict__[name]
                p.data, p.grad = data, grad
            for name, b in buffers:
                object.__setattr__(m, name, b)
            if device is not None:
                object.__setattr__(m, "_device", device)
            m._clear_cache()
        return self

    @property
    def device(self) -> str:
        """Where the module's arrays live: ``"cpu"`` or ``"cuda:N"`` (that of its first
        parameter or buffer; for a module without any, where ``to`` last put it)."""
        for _, p in self.named_parameters():  # the first one decides: no list of them all
            return device_of(p.data)
        for _, b in self.named_buffers():
            return device_of(b)
        return self.__dict__.get("_device", "cpu")

    def _clear_cache(self) -> None:
        """Drop what the last forward cached (called when dtype or state changes)."""

    @property
    def dtype(self) -> np.dtype:
        """dtype of the first parameter (the default dtype for parameterless modules)."""
        for p in self.parameters():
            return p.data.dtype
        return get_default_dtype()

    # -- state ------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by PyTorch-style names: NumPy arrays
        wherever the module lives, so model files and PyTorch see the same thing."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for p in mod._param_names:
                out[pre + p] = _host_copy(mod.__dict__[p].data)
            for b in mod._buffer_names:
                out[pre + b] = _host_copy(mod.__dict__[b])
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Load arrays (NumPy or CuPy) by name, cast to each parameter's dtype and copied
        onto the module's device.

        Everything is checked before anything is written: a missing or unexpected
        key raises ``KeyError``, a shape mismatch ``ValueError``, and the model is
        left unchanged.
        """
        targets: dict[str, tuple[Module, str, bool]] = {}
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for p in mod._param_names:
                targets[pre + p] = (mod, p, True)
            for b in mod._buffer_names:
                targets[pre + b] = (mod, b, False)
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        staged = []
        bad = []
        for key, (mod, name, is_param) in targets.items():
            if key not in state:
                continue
            cur = mod.__dict__[name].data if is_param else mod.__dict__[name]
            new = as_numpy(state[key])
            if new.shape != cur.shape:
                bad.append(f"{key}: expected {cur.shape}, got {new.shape}")
                continue
            if cur.dtype.kind == "f" and new.dtype.kind not in "fiu":
                bad.append(f"{key}: expected a numeric array, got dtype {new.dtype}")
                continue
            arr = np.array(new, dtype=cur.dtype, copy=True)
            staged.append((mod, name, is_param, to_device(arr, device_of(cur))))
        if bad:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: mis-shaped keys: " + "; ".join(bad)
            )
        for mod, name, is_param, arr in staged:
            if is_param:
                mod.__dict__[name].data = arr
            else:
                object.__setattr__(mod, name, arr)
            mod._clear_cache()

    # -- sizes, without allocating ------------------------------------------
    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """Shape of ``forward``'s output for input of ``in_shape`` (batch included),
        worked out without running it; None where the module cannot tell."""
        return None

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]] | None:
        """Names and shapes of the parameters and buffers ``from_config(config)`` would
        hold, without allocating them; None where only building the module can tell.
        A layer with large arrays overrides this and checks the config's sizes."""
        return None

    # -- description --------------------------------------------------------
    def config(self) -> dict:
        """Constructor arguments, as JSON-friendly values (see ``build``)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Module:
        return cls(**config)

    def spec(self) -> dict:
        """``{"type": class name, "config": constructor args}`` — enough to rebuild."""
        return {"type": type(self).__name__, "config": self.config()}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def __repr__(self) -> str:
        kids = list(self.named_children())
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in kids:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def _label(self) -> str:
        """Short name used in error messages, e.g. ``Conv2d(3→16)``."""
        return f"{type(self).__name__}({self.extra_repr()})"


def _host_copy(a) -> np.ndarray:
    """A NumPy copy of ``a`` (a device-to-host copy for a GPU array)."""
    return np.array(a, copy=True) if type(a) is np.ndarray else np.array(as_numpy(a), copy=True)


def _has_params(m: Module) -> bool:
    return any(True for _ in m.parameters())


@register
class Sequential(Module):
    """Children run forward in order and backward in reverse; named "0", "1", …"""

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._module_names)), module)
        return self

    def __len__(self) -> int:
        return len(self._module_names)

    def __getitem__(self, i: int | slice) -> Module | Sequential:
        mods = list(self.children())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def forward(self, x: np.ndarray) -> np.ndarray:
        for m in self.children():
            x = m.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        mods = list(self.children())
        if self.needs_input_grad:
            for m in reversed(mods):
                dy = m.backward(dy)
            return dy
        # dL/dx is not wanted: the layers in front of the first one with parameters need
        # no backward at all, and that one need not compute its own input gradient.
        first = next((i for i, m in enumerate(mods) if _has_params(m)), len(mods))
        for m in reversed(mods[first + 1 :]):
            dy = m.backward(dy)
        if first < len(mods):
            m, keep = mods[first], mods[first].needs_input_grad
            m.needs_input_grad = False
            try:
                m.backward(dy)
            finally:
                m.needs_input_grad = keep
        return None

    def config(self) -> dict:
        return {"layers": [m.spec() for m in self.children()]}

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        return cls(*[build(s) for s in _layer_specs(config)])

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        for i, s in enumerate(_layer_specs(config)):
            out.update({f"{i}.{k}": v for k, v in spec_state_shapes(s).items()})
        return out

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...] | None:
        shape: tuple[int, ...] | None = tuple(in_shape)
        for m in self.children():
            try:
                shape = m.output_shape(shape)
            except (ValueError, TypeError, IndexError):  # a rank the layer cannot take
                return None
            if shape is None:
                return None
        return shape


def _layer_specs(config: dict) -> list:
    layers = config.get("layers", [])
    if not isinstance(layers, list):
        raise ValueError(f"Sequential: config 'layers' must be a list, got {_short(layers)}")
    return layers


@register
class Residual(Module):
    r"""$y = \mathrm{body}(x) + \mathrm{shortcut}(x)$, with the identity when ``shortcut``
    is None.

    Backward: dx = body.backward(dy) + shortcut.backward(dy)   (or + dy).
    """

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__()
        if not isinstance(body, Module) or not (shortcut is None or isinstance(shortcut, Module)):
            raise TypeError("Residual: body and shortcut must be Modules (shortcut may be None)")
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self.body.forward(x)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != s.shape:
            raise ValueError(
                f"Residual: body gives {y.shape} but shortcut gives {s.shape} for input "
                f"{tuple(x.shape)}; use a projection shortcut (e.g. 1x1 Conv2d) to match"
            )
        # An identity shortcut carries x's dtype; the block computes in the body's.
        return y + s.astype(y.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = self.body.backward(dy)
        ds = dy if self.shortcut is None else self.shortcut.backward(dy)
        return dx + ds.astype(dx.dtype, copy=False)

    def config(self) -> dict:
        return {
            "body": self.body.spec(),
            "shortcut": None if self.shortcut is None else self.shortcut.spec(),
        }

    @classmethod
    def from_config(cls, config: dict) -> Residual:
        sc = config.get("shortcut")
        return cls(build(_body_spec(config)), None if sc is None else build(sc))

    @classmethod
    def state_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        out = {f"body.{k}": v for k, v in spec_state_shapes(_body_spec(config)).items()}
        sc = config.get("shortcut")
        if sc is not None:
            out.update({f"shortcut.{k}": v for k, v in spec_state_shapes(sc).items()})
        return out

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...] | None:
        return self.body.output_shape(in_shape)

    def extra_repr(self) -> str:
        return ""


def _body_spec(config: dict):
    if "body" not in config:
        raise ValueError("Residual: config has no 'body'")
    return config["body"]
