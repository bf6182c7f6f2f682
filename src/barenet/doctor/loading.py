"""Reading the user's file: ``FILE.py:NAME`` to something ``check_layer`` takes, with every
failure a ``DoctorInputError`` of one line that says where (file, line, name)."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import sys
import types
from pathlib import Path

from .targets import DoctorInputError, where

__all__ = ["load_module", "resolve"]

_counter = itertools.count()


def load_module(path: str | Path) -> types.ModuleType:
    """Run a Python file as a fresh module (its folder importable while it loads)."""
    p = Path(path)
    if not p.exists():
        raise DoctorInputError(f"{path}: no such file")
    if not p.is_file():
        raise DoctorInputError(f"{path}: not a file")
    if p.suffix != ".py":
        raise DoctorInputError(f"{path}: expected a Python file (.py)")
    try:
        source = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DoctorInputError(f"{path}: cannot be read: {exc}") from None
    try:
        code = compile(source, str(p), "exec")
    except SyntaxError as exc:
        raise DoctorInputError(f"{p.name}, line {exc.lineno}: SyntaxError: {exc.msg}") from None
    name = f"_barenet_user_{p.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(p))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(p)
    folder = str(p.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except (KeyboardInterrupt, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - a user file's error, or its sys.exit
        at = where(exc) or p.name
        raise DoctorInputError(f"{at}: loading it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _defined(module) -> list[str]:
    return sorted(
        k for k, v in vars(module).items()
        if not k.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", None) == module.__name__
    )  # fmt: skip


def resolve(spec: str, args: dict | None = None):
    """``FILE.py:NAME`` -> what ``check_layer`` takes. NAME is a layer class (built with
    ``args``), a layer object, a function returning one (called with ``args``), or the
    common prefix of a pair ``NAME_forward`` / ``NAME_backward`` (or either of them):
    then ``args`` may hold ``"params"`` (name -> shape) and the other keyword arguments."""
    path, sep, name = str(spec).rpartition(":")
    if not sep or not path or not name:
        raise DoctorInputError(f"expected FILE.py:NAME, got {spec!r}")
    module = load_module(path)
    file = Path(path).name
    args = dict(args or {})
    ns = vars(module)
    base = name.removesuffix("_forward").removesuffix("_backward")
    if (
        f"{base}_forward" in ns
        and f"{base}_backward" in ns
        and (name == base or name not in ns or inspect.isfunction(ns[name]))
    ):
        params = args.pop("params", {})
        if not isinstance(params, dict):
            raise DoctorInputError('--args: "params" must map names to shapes, e.g. {"w": [4, 3]}')
        fns = (ns[f"{base}_forward"], ns[f"{base}_backward"])
        return fns, {"params": params, "args": args}, None
    if name not in ns:
        known = ", ".join(_defined(module)) or "nothing"
        raise DoctorInputError(f"{file} has no {name!r}; it defines {known}")
    obj = ns[name]
    if inspect.isclass(obj) or (callable(obj) and not hasattr(obj, "backward")):
        what = f"{name}(**{args})" if args else f"{name}()"
        if args and "params" in args:
            raise DoctorInputError(f'--args: {name} is a class; "params" is for functions')
        try:
            obj = obj(**args)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the user's constructor
            at = where(exc)
            msg = f"{file}: {what} raised {type(exc).__name__}: {exc}"
            raise DoctorInputError(msg + (f" ({at})" if at else "")) from None
        return obj, {}, args
    if args:
        raise DoctorInputError(f"--args given, but {name} is an object, not a class")
    return obj, {}, None
