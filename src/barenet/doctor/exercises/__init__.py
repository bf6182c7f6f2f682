"""Exercises: write a layer's forward or backward yourself, and have it checked.

``start(name, path)`` writes the exercise's stub — the signature, the task and the shapes
in the docstring, and what is given (the forward, when the exercise is the backward)
already written. ``check(path)`` runs the doctor (``check_layer``) on the functions of
the file for each of the exercise's shape cases (stride 2, padding, overlapping windows,
a batch of 1, ...), compares a written forward with barenet's, runs the exercise's own
checks, and says what is still wrong. The worked solution of each is barenet's own
reference kernel (``barenet.reference``), named by ``Exercise.solution``.

An exercise is one :class:`Exercise` in :data:`EXERCISES` and its stub file in
``stubs/``; any number of inputs and outputs fit (a recurrent cell takes x, h and c and
returns h and c: its cases list them all).
"""

from .catalog import EXERCISES
from .entry import MARKER, Exercise, ShapeCase, solution_text, stub_text
from .files import exercise_of, find, start
from .run import CaseResult, ExerciseReport, check

__all__ = [
    "EXERCISES",
    "MARKER",
    "CaseResult",
    "Exercise",
    "ExerciseReport",
    "ShapeCase",
    "check",
    "exercise_of",
    "find",
    "solution_text",
    "start",
    "stub_text",
]
