"""MkDocs hook: show the docstrings' reStructuredText roles as plain code.

The docstrings use ``:class:`Name```, ``:func:`~pkg.name``` and ``::`` before a code
block (they read well in ``help()``); Markdown keeps the role's name as text. This
drops the role (a module keeps its full name, anything else its last component), and the
``::`` that only announced the code block below it.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|attr|meth|data|exc|obj):<code>~?(?:[\w.]+\.)?(\w+)</code>")
_MODULE = re.compile(r":mod:<code>~?([\w.]+)</code>")
_LITERAL = re.compile(r"<p>::</p>\s*")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite one rendered page (MkDocs calls this for every page)."""
    html = _ROLE.sub(r"<code>\1</code>", html)
    html = _MODULE.sub(r"<code>\1</code>", html)
    html = _LITERAL.sub("", html)
    return html.replace("::</p>", ":</p>")
