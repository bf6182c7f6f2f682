"""A griffe extension for the book's API pages: the reStructuredText roles that
barenet's docstrings use (``:func:`fit```, ``:class:`History```, ...) become Markdown
code spans, the form every other name in those docstrings already takes."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`~?([^`]+)`")


class RstRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"``\1``", obj.docstring.value)
