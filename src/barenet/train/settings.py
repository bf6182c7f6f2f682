"""What a training setting is: its declaration, written once, and what is drawn from
all the declarations together (the reference table, a run file's text).

Each field of :class:`~barenet.train.TrainConfig` is declared with :func:`setting`:
its section, one line of help, its check (a value kind of :mod:`.kinds`, with its
range or choices), its unit and default. Everything else is derived from that
declaration: the ``barenet train`` flags (and the shared ones of ``evaluate``,
``study`` and ``sweep``), the check a dict, a sweep file, a run file and a flag go
through, the settings reference of the documentation and the ``config.toml`` a run
writes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass

__all__ = [
    "MAX_INT",
    "SECTIONS",
    "Setting",
    "reference_table",
    "setting",
    "shown",
    "toml_text",
]

#: The sections of the settings, in the order ``--help`` and the reference list them.
SECTIONS = ("data", "model", "optimisation", "schedule", "run", "device")
#: Largest value of a size or count (NumPy's int32-safe range).
MAX_INT = 2**31 - 1


def shown(v, width: int = 60) -> str:
    """``repr(v)`` cut to ``width`` characters; an integer too long to print (past
    Python's 4,300-digit limit) is described by its length instead."""
    try:
        text = repr(v)
    except ValueError:
        return f"an integer of {math.floor(v.bit_length() * math.log10(2)) + 1} digits"
    return text if len(text) <= width else text[: width - 3] + "..."


# -- the declaration ----------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A setting's declaration (the ``metadata["setting"]`` of a TrainConfig field).

    ``section``: one of :data:`SECTIONS`; ``help``: one line (``{choices}``, and
    ``{catalogue}`` for a spec, are filled in from the check); ``check``: the value
    kind; ``unit``; ``default_text``: what ``None`` means where that is not "off";
    ``metavar``: the flag's value name;
    ``flag``: ``"--name"`` (derived), ``"MODEL"`` (a positional), or ``None`` (no
    command-line form: Python objects); ``late``: the flag only parses the text, the
    check runs when the settings are put together (exit code 1 rather than 2: names
    looked up in a registry, the builder arguments); ``aliases``: older flags that
    still work and say they are deprecated."""

    section: str
    help: str
    check: object
    unit: str = ""
    default_text: str | None = None
    metavar: str | None = None
    flag: str | None = ""
    late: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        if self.section not in SECTIONS:
            raise ValueError(f"section must be one of {SECTIONS}, got {self.section!r}")

    def flag_for(self, name: str) -> str | None:
        """The command-line form of setting ``name``: ``--batch-size`` (its name with
        dashes), a positional's name (``MODEL``), or ``None`` (Python only)."""
        if self.flag is None or self.flag:
            return self.flag
        return "--" + name.replace("_", "-")

    def help_text(self) -> str:
        """The help line, its ``{choices}`` and ``{catalogue}`` filled in from the check."""
        text = self.help
        if "{choices}" in text:
            text = text.replace("{choices}", ", ".join(self.check.choices()))
        if "{catalogue}" in text:
            text = text.replace("{catalogue}", self.check.catalogue())
        return text


def setting(
    section: str,
    help: str,
    check,
    *,
    default=dataclasses.MISSING,
    factory=dataclasses.MISSING,
    **declared,
):
    """A dataclass field declared as a setting: ``lr: float | None = setting(
    "optimisation", "learning rate", Real(0, lo_open=True, optional=True), default=None)``.
    ``declared``: the other :class:`Setting` attributes."""
    meta = {"setting": Setting(section, help, check, **declared)}
    return dataclasses.field(default=default, default_factory=factory, metadata=meta)


# -- drawn from all the declarations --------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default_cell(s: Setting, value, required: bool) -> str:
    if required:
        return "required"
    if value is None or value == [] or value == {}:
        return s.default_text or "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def reference_table(settings: dict[str, Setting], defaults: dict, required, sections) -> str:
    """The Markdown table of ``settings`` (name -> declaration) in ``sections``' order:
    section, setting, flag, values, default, unit, what it does."""
    lines = [
        "| section | setting | flag | values | default | unit | what it does |",
        "|---|---|---|---|---|---|---|",
    ]
    for section in sections:
        for name, s in settings.items():
            if s.section != section:
                continue
            flag = s.flag_for(name)
            if flag and flag.startswith("--") and s.check.kind == "bool":
                flag = f"{flag}, --no-{name.replace('_', '-')}"
            flag_text = f"`{flag}`" if flag else "(Python only)"
            if s.aliases:
                flag_text += " (formerly " + ", ".join(f"`{a}`" for a in s.aliases) + ")"
            default = _default_cell(s, defaults[name], name in required)
            cells = [section, f"`{name}`", flag_text, s.check.describe(), default, s.unit]
            cells.append(s.help_text())
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml(v) -> str:
    """One TOML value (settings hold bools, ints, finite floats, strings, and lists
    and tables of them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v).replace("\x7f", "\\u007f")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        items = (f"{k if _BARE_KEY.match(k) else json.dumps(k)} = {_toml(x)}" for k, x in v.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"config.toml: cannot write {type(v).__name__} {v!r:.40}")


def toml_text(values: dict, settings: dict[str, Setting], head: str) -> str:
    """``values`` (name -> plain value) as a TOML run file, by section, after the
    comment ``head``."""
    lines = [f"# {head}"]
    for section in SECTIONS:
        keys = [k for k, s in settings.items() if s.section == section and k in values]
        if keys:
            lines.append(f"\n# {section}")
            lines += [f"{k} = {_toml(values[k])}" for k in keys]
    return "\n".join(lines) + "\n"
