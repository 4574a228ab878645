"""The values every layer passes around: positions, edits, fixes and diagnostics.

One internal form for positions, converted only at the edges (output formats, LSP):
``row`` is 1-based, ``column`` is 0-based and counts Unicode code points, exactly as
libcst reports them. For notebooks, ``cell`` is the 1-based index of the cell among
all cells of the notebook and ``row`` counts within that cell.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple


# The one code the engine itself reports: a file it could not read, decode or parse.
UNANALYZABLE_CODE = "KC900"
UNANALYZABLE_NAME = "unanalyzable-file"


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:  # so f-strings and JSON show "error", not "Severity.ERROR"
        return self.value


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, order=True)
class Position:
    row: int  # 1-based
    column: int  # 0-based, in code points


@dataclass(frozen=True)
class Edit:
    """Replace the text between ``start`` and ``end`` with ``content``."""

    start: Position
    end: Position
    content: str
    cell: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "content": self.content,
            "location": {"row": self.start.row, "column": self.start.column + 1},
            "end_location": {"row": self.end.row, "column": self.end.column + 1},
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], cell: Optional[int] = None) -> "Edit":
        loc, end = data["location"], data["end_location"]
        return cls(
            Position(loc["row"], loc["column"] - 1),
            Position(end["row"], end["column"] - 1),
            data["content"],
            cell,
        )


@dataclass(frozen=True)
class Fix:
    message: str
    edits: Tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE

    def to_dict(self) -> Dict[str, Any]:
        return {
            "applicability": str(self.applicability),
            "message": self.message,
            "edits": [e.to_dict() for e in self.edits],
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], cell: Optional[int] = None) -> "Fix":
        return cls(
            data["message"],
            tuple(Edit.from_dict(e, cell) for e in data["edits"]),
            Applicability(data["applicability"]),
        )


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    path: str  # as the user gave it (relative stays relative)
    start: Position
    end: Position
    severity: Severity = Severity.WARNING
    help: Optional[str] = None
    fix: Optional[Fix] = None
    cell: Optional[int] = None
    # The text of the first and last flagged source lines: renderers show them (full) or
    # need them to convert columns (UTF-16 for LSP, SARIF).
    source_line: Optional[str] = field(default=None, compare=False)
    end_source_line: Optional[str] = field(default=None, compare=False)

    @property
    def sort_key(self) -> Tuple[str, int, int, int, str, str]:
        return (self.path, self.cell or 0, self.start.row, self.start.column, self.code, self.message)

    def with_changes(self, **changes: Any) -> "Diagnostic":
        return replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """Serialise losslessly (the cache and worker processes use this)."""
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "path": self.path,
            "start": [self.start.row, self.start.column],
            "end": [self.end.row, self.end.column],
            "severity": str(self.severity),
            "help": self.help,
            "fix": self.fix.to_dict() if self.fix else None,
            "cell": self.cell,
            "source_line": self.source_line,
            "end_source_line": self.end_source_line,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Diagnostic":
        fix = data.get("fix")
        # Edits carry 1-based columns in their dict form; their cell follows the finding's.
        return cls(
            code=data["code"],
            name=data["name"],
            message=data["message"],
            path=data["path"],
            start=Position(*data["start"]),
            end=Position(*data["end"]),
            severity=Severity(data["severity"]),
            help=data.get("help"),
            fix=Fix.from_dict(fix, data.get("cell")) if fix else None,
            cell=data.get("cell"),
            source_line=data.get("source_line"),
            end_source_line=data.get("end_source_line"),
        )


def sort_diagnostics(diagnostics: List[Diagnostic]) -> List[Diagnostic]:
    return sorted(diagnostics, key=lambda d: d.sort_key)
