"""``concise``: one line per finding, ``path:row:col: CODE message``.

The line grep, pre-commit and editors' problem matchers read, so it carries nothing else:
columns are 1-based code points, and notebook findings read ``nb.ipynb:cell 5:3:5: ...``
(the row counts within the cell).
"""

from __future__ import annotations

from typing import Sequence

from ..diagnostics import Diagnostic
from .common import OutputOptions, text_location


def _one_line(text: str) -> str:
    # A message with a line break (a parser's, quoted in KC900) would read as two findings.
    return " ".join(text.splitlines())


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    return "".join(f"{text_location(d)}: {d.code} {_one_line(d.message)}\n" for d in diagnostics)
