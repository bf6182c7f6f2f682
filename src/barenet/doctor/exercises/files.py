"""Finding an exercise by name or by file, and writing its stub."""

from __future__ import annotations

from pathlib import Path

from ...io import atomic_open
from ..targets import DoctorInputError
from .catalog import EXERCISES
from .entry import MARKER, Exercise, stub_text

__all__ = ["exercise_of", "find", "start"]


def find(name: str) -> Exercise:
    key = str(name).strip().lower().replace("_", "-")
    for ex in EXERCISES:
        if ex.name == key:
            return ex
    raise DoctorInputError(
        f"unknown exercise {name!r}; the exercises are {', '.join(e.name for e in EXERCISES)}"
    )


def start(name: str, out: str | Path | None = None, force: bool = False) -> Path:
    """Write the stub of exercise ``name`` to ``out`` (default: its file name in the working
    folder), atomically; an existing file is kept unless ``force``."""

    ex = find(name)
    path = Path(out) if out is not None else Path(ex.stub_name)
    if path.exists() and not force:
        raise DoctorInputError(f"{path} exists; pass --force to overwrite it")
    if path.is_dir():
        raise DoctorInputError(f"{path} is a folder; name a file")
    with atomic_open(path, "w") as f:
        f.write(stub_text(ex))
    return path


def exercise_of(path: str | Path) -> Exercise:
    """The exercise a file says it is (its marker line, else its file name)."""
    p = Path(path)
    if not p.is_file():
        raise DoctorInputError(f"{path}: no such file")
    try:
        head = p.read_text(encoding="utf-8").splitlines()[:5]
    except (OSError, UnicodeDecodeError) as exc:
        raise DoctorInputError(f"{path}: cannot be read: {exc}") from None
    for line in head:
        if line.startswith(MARKER):
            return find(line[len(MARKER) :].strip())
    for ex in EXERCISES:
        if p.name == ex.stub_name:
            return ex
    raise DoctorInputError(
        f"{path}: not an exercise file (its first line should be '{MARKER} NAME'; "
        "barenet exercise start NAME writes one)"
    )
