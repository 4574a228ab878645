"""``lsp``: a JSON array of LSP ``PublishDiagnosticsParams``, one per file.

For editor plug-ins that run the command instead of the language server; the server reuses
:func:`to_lsp_diagnostic` and :func:`utf16_column`. Lines are 0-based and characters are
UTF-16 code units, as LSP's default position encoding requires (an emoji counts 2).

Notebooks: a command-line run cannot know the URI an editor gives each cell, so a notebook
finding is reported against the ``.ipynb`` file's URI with the line counted within its cell
and the 1-based cell index in ``data.cell`` (``null`` for Python files); ``data.fix`` is the
fix as the ``json`` format writes it, or ``null``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

from ..diagnostics import Diagnostic, Position, Severity
from .common import OutputOptions, absolute_path, end_line_text, rule_url

ERROR, WARNING = 1, 2  # LSP's DiagnosticSeverity


def utf16_column(line_text: Optional[str], codepoint_column: int) -> int:
    """The column in UTF-16 code units of a code-point column of ``line_text``.

    Characters outside the Basic Multilingual Plane (most emoji) take two UTF-16 units.
    Without the line's text (a file that could not be read) the column is kept as is.
    """
    if not line_text:
        return codepoint_column
    astral = sum(1 for char in line_text[:codepoint_column] if ord(char) > 0xFFFF)
    return codepoint_column + astral


def _position(position: Position, line_text: Optional[str]) -> Dict[str, int]:
    return {"line": position.row - 1, "character": utf16_column(line_text, position.column)}


def to_lsp_diagnostic(diagnostic: Diagnostic) -> Dict[str, Any]:
    """One finding as an LSP ``Diagnostic`` (a plain dict, ready for JSON)."""
    return {
        "range": {
            "start": _position(diagnostic.start, diagnostic.source_line),
            "end": _position(diagnostic.end, end_line_text(diagnostic)),
        },
        "severity": ERROR if diagnostic.severity is Severity.ERROR else WARNING,
        "code": diagnostic.code,
        "codeDescription": {"href": rule_url(diagnostic.code)},
        "source": "kerascheck",
        "message": diagnostic.message,
        "data": {
            "fix": diagnostic.fix.to_dict() if diagnostic.fix else None,
            "cell": diagnostic.cell,
        },
    }


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    by_uri: Dict[str, List[Dict[str, Any]]] = {}
    for diagnostic in diagnostics:
        uri = absolute_path(diagnostic.path, options.cwd).as_uri()
        by_uri.setdefault(uri, []).append(to_lsp_diagnostic(diagnostic))
    params = [{"uri": uri, "diagnostics": found} for uri, found in by_uri.items()]
    return json.dumps(params, indent=2) + "\n"
