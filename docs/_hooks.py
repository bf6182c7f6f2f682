"""MkDocs hooks of the book: MathJax bundled into the site (no CDN), and docs/ on
``sys.path`` so that the executed blocks can ``import book``."""

from __future__ import annotations

import logging
import re
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


# Text that means something did not render: TeX left outside a typeset span, a
# reStructuredText role (a block that raises is markdown-exec's own warning).
_SKIP = re.compile(
    r'<(code|pre|script|style)\b.*?</\1>|<span class="arithmatex">.*?</span>'
    r'|<div class="arithmatex">.*?</div>',
    re.S,
)
_UNRENDERED = re.compile(
    r"\$\$|\\[A-Za-z]{2,}|(?<![\w$\\])\$(?=[^\s$])"   # a TeX command, a lone $ opening math
    # a role survives Markdown as ":func:" before the code span, which _SKIP removes
    r"|:(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):(?=[\s`]|$)"
)
log = logging.getLogger("mkdocs.plugins.barenet_book")


def on_page_content(html, page, config, files):
    """Fail the (strict) build on math or markup that did not render."""
    text = _SKIP.sub(" ", html)
    text = re.sub(r"<[^>]+>", " ", text)
    for m in _UNRENDERED.finditer(text):
        start = max(m.start() - 40, 0)
        log.warning("%s: unrendered markup %r in ...%s...", page.file.src_uri, m.group(0)[:30],
                    " ".join(text[start : m.end() + 40].split()))
        break
    return html
