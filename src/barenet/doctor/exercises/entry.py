"""An exercise's description: its shape cases and how its functions are called."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ..targets import distinct_input

__all__ = ["MARKER", "Exercise", "ShapeCase", "solution_text", "stub_text"]

#: The first line of every stub: says which exercise a file is.
MARKER = "# barenet exercise:"


@dataclass(frozen=True)
class ShapeCase:
    """One configuration an exercise is checked on. ``tensors``: the arrays the forward
    takes after the input, in order — a shape (random values), None (absent, such as a
    bias) or a function of a generator returning the array; ``kwargs``: the other
    arguments; ``scale`` multiplies the input (large logits)."""

    label: str
    input_shape: tuple[int, ...]
    tensors: dict = field(default_factory=dict)
    kwargs: dict = field(default_factory=dict)
    scale: float = 1.0

    def arrays(self, seed: int) -> dict:
        rng = np.random.default_rng(seed + 7)
        out = {"x": distinct_input(self.input_shape, seed) * self.scale}
        for name, spec in self.tensors.items():
            if spec is None:
                out[name] = None
            elif callable(spec):
                out[name] = np.asarray(spec(rng), dtype=np.float64)
            else:
                out[name] = rng.standard_normal(tuple(spec)) * 0.5
        return out


@dataclass(frozen=True)
class Exercise:
    """One exercise: what to write, what is given, how its functions are called.

    ``forward``/``backward`` name the file's functions the doctor calls (``backward``
    None for a fused loss, whose ``forward`` returns (L, dL/dz, ...)); ``adapt`` turns
    the forward's return into (y, cache) when it returns more; ``compare_forward`` checks
    the forward against ``solution``'s; ``target`` makes the loss's labels; ``extra``
    runs checks of its own on the file's namespace and returns what is wrong."""

    name: str
    title: str
    write: tuple[str, ...]
    forward: str
    backward: str | None
    cases: tuple[ShapeCase, ...]
    solution: dict[str, str]  # function of the file -> barenet.reference function
    compare_forward: bool = False
    adapt: Callable | None = None
    fresh: Callable[[], dict] | None = None  # arguments made anew for every call
    target: Callable | None = None  # (case, rng) -> the labels of a loss
    extra: Callable | None = None  # namespace -> list of problems

    @property
    def stub_name(self) -> str:
        return self.name.replace("-", "_") + ".py"


def stub_text(ex: Exercise) -> str:
    """The stub file of ``ex``, as ``exercise start`` writes it."""
    return resources.files(__package__).joinpath("stubs", ex.stub_name).read_text("utf-8")


def solution_text(ex: Exercise) -> str:
    """The stub with its functions to write replaced by barenet's reference kernels."""
    names = ", ".join(f"{ref} as {mine}" if ref != mine else ref for mine, ref in
                      ex.solution.items())  # fmt: skip
    return stub_text(ex) + f"\n\nfrom barenet.reference import {names}  # noqa: E402, F811\n"
