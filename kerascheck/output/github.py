"""``github``: GitHub Actions workflow commands, one annotation per finding.

``::warning title=kerascheck (KC002),file=...,line=...,col=...,endLine=...,endColumn=...::message``
(``::error`` for error-severity findings). Rows and columns are 1-based, columns count code
points; ``endColumn`` is exclusive, like the ``json`` format's end column. A range over
several lines gets no ``col``/``endColumn``: GitHub reads columns only for one-line ranges.

Notebooks: GitHub can only point into the raw ``.ipynb`` JSON, whose lines are not the
cell's, so the message starts with ``cell N, line R: `` and ``line`` is the row within the
cell.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from ..diagnostics import Diagnostic, Severity
from .common import OutputOptions, notebook_prefix, one_based, printable_path


def escape_data(text: str) -> str:
    """Escape a workflow command's message the way the Actions runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property value (``:`` and ``,`` separate properties)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _properties(diagnostic: Diagnostic) -> List[Tuple[str, object]]:
    start, end = diagnostic.start, diagnostic.end
    one_line = start.row == end.row
    properties: List[Tuple[str, object]] = [
        ("title", f"kerascheck ({diagnostic.code})"),
        ("file", printable_path(diagnostic.path)),
        ("line", start.row),
    ]
    if one_line:
        properties.append(("col", one_based(start.column)))
    properties.append(("endLine", end.row))
    if one_line:
        properties.append(("endColumn", one_based(end.column)))
    return properties


def annotation(diagnostic: Diagnostic) -> str:
    level = "error" if diagnostic.severity is Severity.ERROR else "warning"
    properties = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in _properties(diagnostic)
    )
    message = escape_data(notebook_prefix(diagnostic) + diagnostic.message)
    return f"::{level} {properties}::{message}"


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    return "".join(annotation(d) + "\n" for d in diagnostics)
