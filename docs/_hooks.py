"""MkDocs hooks of the book: MathJax bundled into the site (no CDN), and docs/ on
``sys.path`` so that the executed blocks can ``import book``."""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
MATHJAX = "assets/mathjax/tex-svg-full.js"  # MathJax 3, every TeX extension, SVG output


def on_config(config):
    if str(DOCS) not in sys.path:
        sys.path.insert(0, str(DOCS))
    return config


def on_files(files, config):
    """Add MathJax's one-file build from the ``django-static-mathjax`` wheel (the
    ``docs`` extra), so the site typesets math with nothing fetched from the network."""
    try:
        import mathjax
    except ImportError as exc:
        raise SystemExit(
            "the book needs MathJax from the docs extra: pip install -e '.[docs]'"
        ) from exc
    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"
    files.append(File.generated(config, MATHJAX, abs_src_path=str(src)))
    return files
