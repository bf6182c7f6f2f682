"""Sweep configurations: loading (TOML or dict), grid expansion and run names.

A sweep configuration is a dict (or a TOML file with the same shape)::

    name = "activation"            # optional metadata, shown in tables and reports
    title = "Sigmoid vs leaky ReLU"
    metric = "val_accuracy"        # the number the report's sentence compares
    seeds = [0, 1, 2]              # every grid point runs once per seed

    [base]                         # settings shared by every run (run_training's keys)
    model = "mlp"
    data = "fashion-mnist"

    [grid]                         # lists whose product is taken; dotted keys reach
    "model_args.activation" = ["sigmoid", "leaky_relu"]   # into nested settings

    [[runs]]                       # and/or explicit points (deep-merged over base);
    label = "bn + dropout"         # an optional label names the point
    model = "cnn-dropout-bn"

    [quick]                        # overrides for ``--quick``: base, grid, runs, seeds
    seeds = [0]
    [quick.base]
    data = "digits"

With both ``grid`` and ``runs`` every run entry is combined with every grid point.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..core.checks import long_integer_at

__all__ = [
    "RunSpec",
    "load_config",
    "apply_quick",
    "apply_overrides",
    "expand",
    "format_value",
    "deep_merge",
]

_META_KEYS = {"name", "title", "description", "metric", "seeds", "plots", "quick", "reported"}
_KNOWN_KEYS = _META_KEYS | {"base", "grid", "runs"}
_MAX_NAME = 120


@dataclass
class RunSpec:
    """One training run of a sweep: its settings, grid point and seed.

    ``name`` is stable and filesystem-safe (the run's folder); ``point`` labels the
    grid point shared by all seeds; ``varied`` holds the varied settings' values.
    """

    name: str
    point: str
    seed: int
    settings: dict
    varied: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "point": self.point,
            "seed": self.seed,
            "varied": self.varied,
            "settings": self.settings,
        }


def load_config(source: str | os.PathLike | dict) -> dict:
    """Read a sweep configuration from a TOML file (or copy a dict) and check its shape.

    Raises ``ValueError`` naming the file for bad TOML, unknown top-level keys,
    a grid entry that is not a non-empty list, or bad seeds.
    """
    if isinstance(source, dict):
        cfg, where = copy.deepcopy(source), "sweep config"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"sweep config {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
            cfg = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"sweep config {path}: not valid TOML ({exc})") from None
        except ValueError as exc:  # tomllib's int() on an integer past its digit limit
            raise ValueError(f"sweep config {path}: {long_integer_at(text) or exc}") from None
        where = f"sweep config {path}"
        cfg.setdefault("name", path.stem)
    unknown = sorted(set(cfg) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown top-level keys {unknown}; settings of the runs go in [base], "
            f"known keys: {sorted(_KNOWN_KEYS)}"
        )
    if not isinstance(cfg.get("base", {}), dict):
        raise ValueError(f"{where}: [base] must be a table, got {type(cfg['base']).__name__}")
    runs = cfg.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError(f"{where}: 'runs' must be a list of tables ([[runs]])")
    for key, values in _flatten_grid(cfg.get("grid", {}), where):
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"{where}: grid entry {key!r} must be a non-empty list, got {values!r}"
            )
    seeds = cfg.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        raise ValueError(f"{where}: seeds must be a non-empty list of non-negative ints: {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: seeds repeat: {seeds!r}")
    return cfg


def deep_merge(base: dict, over: dict) -> dict:
    """A new dict: ``over`` on top of ``base``, nested dicts merged key by key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def apply_quick(cfg: dict) -> dict:
    """The configuration with its ``[quick]`` overrides applied (base, grid, runs, seeds)."""
    quick = cfg.get("quick", {})
    out = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "quick"}
    out["base"] = deep_merge(cfg.get("base", {}), quick.get("base", {}))
    if "grid" in quick:
        grid = dict(_flatten_grid(cfg.get("grid", {}), "grid"))
        grid.update(_flatten_grid(quick["grid"], "quick.grid"))
        out["grid"] = grid
    for key in ("runs", "seeds"):
        if key in quick:
            out[key] = copy.deepcopy(quick[key])
    return load_config(out)


def apply_overrides(cfg: dict, overrides: dict) -> dict:
    """The configuration with ``overrides`` (``--set``, nested like ``[base]``) applied.

    ``seeds`` replaces the seed list. A setting the grid varies replaces that axis:
    a list gives the axis its new values (for an axis of list values, a list of
    lists), anything else fixes it to that one value. A setting that the
    ``[[runs]]`` entries set, or one that overlaps an axis without being it
    (``model_args`` when ``model_args.hidden`` is varied), is refused with a
    ``ValueError``: it could not take effect. Everything else is merged into
    ``[base]``.
    """
    cfg = {k: copy.deepcopy(v) for k, v in cfg.items()}
    over = copy.deepcopy(dict(overrides))
    if "seeds" in over:
        cfg["seeds"] = over.pop("seeds")
    grid = dict(_flatten_grid(cfg.get("grid", {}), "grid"))
    entry_keys = {
        k
        for e in cfg.get("runs", [])
        for k in _flatten({k: v for k, v in e.items() if k != "label"})
    }
    base_over: dict = {}
    for key, value in _flatten(over).items():
        if key in grid:
            lists = any(isinstance(v, list) for v in grid[key])
            many = (
                isinstance(value, list)
                and value
                and (not lists or all(isinstance(v, list) for v in value))
            )
            grid[key] = list(value) if many else [value]
            continue
        clash = [a for a in grid if a.startswith(key + ".") or key.startswith(a + ".")]
        if clash:
            raise ValueError(
                f"--set {key}: overlaps the varied setting {clash[0]!r}; set {clash[0]} itself"
            )
        clash = [k for k in entry_keys if k == key or k.startswith(key + ".")]
        clash += [k for k in entry_keys if key.startswith(k + ".")]
        if clash:
            raise ValueError(
                f"--set {key}: the configuration's [[runs]] entries set {clash[0]!r} "
                f"themselves, so the value could not take effect; edit the file instead"
            )
        _set_dotted(base_over, key, value)
    cfg["base"] = deep_merge(cfg.get("base", {}), base_over)
    if grid:
        cfg["grid"] = grid
    return load_config(cfg)


def _flatten_grid(grid: dict, where: str, prefix: str = "") -> list[tuple[str, object]]:
    if not isinstance(grid, dict):
        raise ValueError(f"{where}: [grid] must be a table of lists")
    items: list[tuple[str, object]] = []
    for k, v in grid.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            items.extend(_flatten_grid(v, where, key + "."))
        else:
            items.append((key, v))
    return items


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _set_dotted(settings: dict, key: str, value) -> None:
    node = settings
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
        node[parts[-1]] = deep_merge(node[parts[-1]], value)
    else:
        node[parts[-1]] = copy.deepcopy(value)


def format_value(value) -> str:
    """A short human-readable form of a setting: ``3e-05``, ``256x128``, ``true``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(format_value(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ",".join(f"{k}={format_value(v)}" for k, v in value.items())
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.") or "x"


def _short_keys(keys: list[str]) -> dict[str, str]:
    short = {k: k.split(".")[-1] for k in keys}
    if len(set(short.values())) < len(keys):
        return {k: k for k in keys}
    return short


def _run_name(point_slug: str, seed: int) -> str:
    name = f"{point_slug}__seed-{seed}" if point_slug else f"seed-{seed}"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: _MAX_NAME - 30]}-{digest}__seed-{seed}"
    return name


def expand(cfg: dict) -> list[RunSpec]:
    """All runs of a configuration: grid product x explicit runs x seeds, in order.

    Run names are built from the varied settings and the seed (``lr-0.03__seed-1``),
    so they do not change when the sweep is run again; two points that would get
    the same name raise ``ValueError``.
    """
    cfg = load_config(cfg)
    base = cfg.get("base", {})
    axes = _flatten_grid(cfg.get("grid", {}), "grid")
    entries = cfg.get("runs") or [{}]
    flat_entries = [_flatten({k: v for k, v in e.items() if k != "label"}) for e in entries]
    entry_keys = list(dict.fromkeys(k for fe in flat_entries for k in fe))
    varied_entry = [
        k
        for k in entry_keys
        if len({repr(fe.get(k, _flatten(base).get(k))) for fe in flat_entries}) > 1
    ]
    varied_keys = varied_entry + [k for k, _ in axes if k not in varied_entry]
    short = _short_keys(varied_keys)
    specs: list[RunSpec] = []
    seen: dict[str, str] = {}
    for entry, flat in zip(entries, flat_entries):
        for combo in itertools.product(*(vals for _, vals in axes)):
            settings = deep_merge(base, {k: v for k, v in entry.items() if k != "label"})
            for (key, _), value in zip(axes, combo):
                _set_dotted(settings, key, value)
            flat_settings = _flatten(settings)
            varied = {k: flat_settings.get(k, flat.get(k)) for k in varied_keys}
            parts = [f"{short[k]}={format_value(v)}" for k, v in varied.items()]
            if "label" in entry:
                grid_parts = [f"{short[k]}={format_value(v)}" for (k, _), v in zip(axes, combo)]
                point = ", ".join([str(entry["label"])] + grid_parts)
            else:
                point = ", ".join(parts) or str(cfg.get("name", "run"))
            slug = "__".join(_slug(p.replace("=", "-")) for p in point.split(", "))
            if slug in seen and seen[slug] != point:
                raise ValueError(f"sweep: points {seen[slug]!r} and {point!r} share a run name")
            seen[slug] = point
            for seed in cfg.get("seeds", [0]):
                run_settings = copy.deepcopy(settings)
                run_settings["seed"] = seed
                specs.append(RunSpec(_run_name(slug, seed), point, seed, run_settings, varied))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("sweep: two runs share a name; give the [[runs]] entries labels")
    return specs
