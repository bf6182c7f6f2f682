"""The training settings as command-line flags, derived from their declarations in
:class:`~barenet.train.TrainConfig`: name (the field's name with dashes; booleans
get ``--NAME`` and ``--no-NAME``), value type, choices, help line with its default,
grouped by section in ``--help``; a deprecated alias still works and says so.

A flag's value goes through the setting's one check as it is parsed, so a bad value
is a usage error naming the flag (``argument --lr: must be a finite number > 0, got
nan``), the same sentence that a file or a dict gets with the key's name. A
setting declared ``late`` (names looked up in a registry, the builder arguments) is
only parsed here and checked when the settings are put together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable

from ..train.config import TrainConfig, check_setting, flag_of
from ..train.settings import SECTIONS, Setting

__all__ = ["add_setting_args", "settings_from_args", "flag_names"]


def _strip_name(name: str, message: str) -> str:
    """The check's sentence without the setting's name in front (argparse names the flag)."""
    for head in (f"{name}: ", f"{name} "):
        if message.startswith(head):
            return message[len(head) :]
    return message


def _from_text(kind: str, text: str, table: Callable[[str], dict] | None):
    """The value a flag's text stands for (left as text where it does not parse: the
    check then says what was expected)."""
    if kind == "int":
        try:
            return int(text.strip(), 10)
        except ValueError:
            return text
    if kind == "real":
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "size":
        try:
            return [int(p.strip(), 10) for p in text.replace("x", ",").split(",")]
        except ValueError:
            return text
    if kind == "tags":
        return [t.strip() for t in text.split(",") if t.strip()]
    if kind == "table":
        if table is None:
            raise TypeError("a table setting needs its text parser (table=...)")
        return table(text)  # argparse.ArgumentTypeError with its own message
    return text


def _value_type(name: str, s: Setting, table) -> Callable[[str], object]:
    def parse(text: str):
        value = _from_text(s.check.kind, text, table)
        if s.late:
            return value
        try:
            return check_setting(name, value)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(_strip_name(name, str(exc))) from None

    parse.__name__ = s.check.kind
    return parse


class _Deprecated(argparse.Action):
    """An old name of a setting's flag: sets the setting, with a warning on stderr."""

    def __init__(self, option_strings, dest, new: str = "", **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"warning: {option_string} is deprecated; it is {self.new} now ({self.dest} in files)",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def _default_text(name: str, s: Setting) -> str:
    value = TrainConfig.defaults()[name]
    if isinstance(value, bool):
        return "on" if value else ""
    if value is None or value == {} or value == []:
        return s.default_text or ""
    return str(value)


def _help(name: str, s: Setting, note: str, placeholder: bool) -> str:
    text = s.help_text() + (f"; {note}" if note else "")
    text = text.replace("%", "%%")
    if placeholder:
        return text + " (default: %(default)s)"
    shown = _default_text(name, s)
    return text + (f" (default: {shown.replace('%', '%%')})" if shown else "")


def add_setting_args(
    p: argparse.ArgumentParser,
    names: Iterable[str] | None = None,
    *,
    declared_defaults: bool = True,
    required: Iterable[str] = (),
    optional_positional: bool = False,
    notes: dict[str, str] | None = None,
    aliases: dict[str, tuple[str, ...]] | None = None,
    table: Callable[[str], dict] | None = None,
) -> list[str]:
    """Add the flags of the settings ``names`` (default: every one that has a flag) to
    ``p``, each in the argument group of its section; returns the names added.

    ``declared_defaults``: an option left out holds the declared default (as commands
    that read ``args.device`` expect); otherwise ``None``, so that
    :func:`settings_from_args` keeps only what was given (``barenet train``, whose
    flags override a file). Booleans hold ``None`` when left out either way.
    ``required``: options argparse insists on; ``optional_positional``: the
    positional (MODEL) may be left out; ``notes``: a command's remark after a help
    line; ``aliases``: a command's own old names of a flag (deprecated, like the
    declared ones); ``table``: the text parser of a table setting (``--model-args``)."""
    settings = TrainConfig.settings()
    names = [n for n in (names or settings) if flag_of(n) is not None]
    required, notes, aliases = set(required), notes or {}, aliases or {}
    groups = getattr(p, "_setting_groups", None)
    if groups is None:
        groups = p._setting_groups = {}
    for name in sorted(names, key=lambda n: SECTIONS.index(settings[n].section)):
        s, flag = settings[name], flag_of(name)
        if not flag.startswith("--"):  # a positional
            p.add_argument(
                name,
                metavar=s.metavar or flag,
                nargs="?" if optional_positional else None,
                type=_value_type(name, s, table),
                help=_help(name, s, notes.get(name, ""), False),
            )
            continue
        if s.section not in groups:
            groups[s.section] = p.add_argument_group(f"{s.section} settings")
        group = groups[s.section]
        if s.check.kind in ("bool", "resume"):
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_help(name, s, notes.get(name, ""), False),
            )
            continue
        value = TrainConfig.defaults()[name]
        placeholder = declared_defaults and value is not None
        kw: dict = dict(
            dest=name,
            type=_value_type(name, s, table),
            metavar=s.metavar,
            default=value if placeholder else None,
            required=name in required,
        )
        if s.check.kind == "choice" and not s.late:
            kw["choices"] = s.check.choices()
            kw["metavar"] = None
        group.add_argument(flag, help=_help(name, s, notes.get(name, ""), placeholder), **kw)
        for alias in (*s.aliases, *aliases.get(name, ())):
            kw.pop("choices", None)
            kw.update(required=False, default=argparse.SUPPRESS)
            p.add_argument(alias, action=_Deprecated, new=flag, help=argparse.SUPPRESS, **kw)
    return names


def settings_from_args(args: argparse.Namespace, names: Iterable[str] | None = None) -> dict:
    """``{setting: value}`` of the settings given on the command line (those holding
    ``None`` were left out)."""
    keys = names or TrainConfig.keys()
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def flag_names(p: argparse.ArgumentParser) -> dict[str, str]:
    """``{option string: setting}`` of the setting flags of ``p`` (aliases included)."""
    keys = set(TrainConfig.keys())
    out = {}
    for action in p._actions:
        if action.dest in keys:
            for opt in action.option_strings or [action.metavar or action.dest]:
                out[opt] = action.dest
    return out
