"""What a rule sees of the file it checks, and how its reports become diagnostics.

Positions are the expensive part of libcst metadata, so they are computed only for the
nodes asked about (see :mod:`kerascheck.positions`).
"""

from __future__ import annotations

from functools import cached_property
from typing import List, Optional, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from .diagnostics import Diagnostic, Edit, Fix, Position
from .positions import NodePositions, Positions
from .registry import FixSpec, InsertAtTop, InsertStatementAfter, Replace, Report
from .semantics import Semantics


class FileContext:
    def __init__(
        self, path: str, source: str, module: cst.Module, positions: Optional[Positions] = None
    ) -> None:
        self.path = path
        self.source = source
        self.module = module
        self._known_positions = positions
        self.semantics = Semantics(module)
        self._reports: List[Report] = []

    # ---- for rules -----------------------------------------------------------------

    def add_report(self, report: Report) -> None:
        self._reports.append(report)

    @property
    def has_reports(self) -> bool:
        return bool(self._reports)

    def position(self, node: cst.CSTNode) -> CodeRange:
        """Where ``node`` is."""
        return self._positions[node]

    def line_of(self, node: cst.CSTNode) -> int:
        return self._positions[node].start.line

    @cached_property
    def lines(self) -> List[str]:
        # splitlines() would also split on form feeds and other separators Python does
        # not treat as line ends, which would shift every row after them.
        return self.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    # ---- for the engine --------------------------------------------------------------

    @cached_property
    def _positions(self) -> Positions:
        return self._known_positions or NodePositions(self.module, self.source)

    def diagnostics(self) -> List[Diagnostic]:
        out: List[Diagnostic] = []
        for report in self._reports:
            where = self._positions[report.node]
            start = Position(where.start.line, where.start.column)
            end = Position(where.end.line, where.end.column)
            rule = report.rule
            out.append(
                Diagnostic(
                    code=rule.code,
                    name=rule.name,
                    message=report.message,
                    path=self.path,
                    start=start,
                    end=end,
                    severity=rule.severity,
                    help=report.help,
                    fix=self._fix(report.fix) if report.fix else None,
                    source_line=self._line_text(start.row),
                    end_source_line=self._line_text(end.row),
                )
            )
        return out

    def _line_text(self, row: int) -> str:
        return self.lines[row - 1] if 0 < row <= len(self.lines) else ""

    def _fix(self, spec: FixSpec) -> Fix:
        return Fix(spec.message, tuple(self._edit(c) for c in spec.changes), spec.applicability)

    def _edit(self, change) -> Edit:  # type: ignore[no-untyped-def]
        if isinstance(change, Replace):
            where = self._positions[change.node]
            content = change.new if isinstance(change.new, str) else self.code_for(change.new)
            return Edit(
                Position(where.start.line, where.start.column),
                Position(where.end.line, where.end.column),
                content,
            )
        if isinstance(change, InsertStatementAfter):
            where = self._positions[change.node]
            first = self._line_text(where.start.line)
            indent = first[: len(first) - len(first.lstrip())]
            last_row = where.end.line
            at = Position(last_row, len(self._line_text(last_row)))
            body = "".join("\n" + (indent + line if line else "") for line in change.code.splitlines())
            return Edit(at, at, body)
        if isinstance(change, InsertAtTop):
            row = self._import_insertion_row()
            at = Position(row, 0)
            code = change.code if change.code.endswith("\n") else change.code + "\n"
            return Edit(at, at, code)
        raise TypeError(f"unknown fix change {change!r}")

    def _import_insertion_row(self) -> int:
        """The row after the leading docstring / imports block (1 if there is none)."""
        row = 1
        body: Sequence[cst.CSTNode] = self.module.body
        for index, statement in enumerate(body):
            if isinstance(statement, cst.SimpleStatementLine) and all(
                isinstance(s, (cst.Import, cst.ImportFrom))
                or (index == 0 and isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
                for s in statement.body
            ):
                row = self._positions[statement].end.line + 1
            else:
                break
        return row

