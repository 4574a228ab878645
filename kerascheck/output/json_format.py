"""``json``: one JSON array, shaped like ruff's JSON output so existing tooling reads it.

Each element is ``{"code", "name", "message", "severity", "filename", "location",
"end_location", "cell", "fix", "url"}``. Rows and columns are 1-based, columns count code
points; ``filename`` is the path as the user gave it; for notebooks ``cell`` is the 1-based
index of the cell among all cells and rows count within that cell, otherwise ``cell`` is
null. ``fix`` is null or ``{"applicability", "message", "edits"}`` (1-based columns too).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Sequence

from ..diagnostics import Diagnostic, Position
from .common import OutputOptions, one_based, rule_url


def _location(position: Position) -> Dict[str, int]:
    return {"row": position.row, "column": one_based(position.column)}


def diagnostic_object(diagnostic: Diagnostic) -> Dict[str, Any]:
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "severity": str(diagnostic.severity),
        "filename": diagnostic.path,
        "location": _location(diagnostic.start),
        "end_location": _location(diagnostic.end),
        "cell": diagnostic.cell,
        "fix": diagnostic.fix.to_dict() if diagnostic.fix else None,
        "url": rule_url(diagnostic.code),
    }


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    return json.dumps([diagnostic_object(d) for d in diagnostics], indent=2) + "\n"
