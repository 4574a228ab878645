"""Where nodes are in the source, computed only for the top-level statements that hold the
nodes asked about.

libcst's ``PositionProvider`` generates the code of the whole module while tracking rows
and columns, behind a ``MetadataWrapper`` that also visits every node: for a 1,000-line
file that costs more than twice its parse, on every keystroke in an editor. Rules report
on a handful of nodes. A top-level statement's code does not depend on what comes before
it, so each statement holding a node asked about is generated alone with libcst's own
position tracking, and its rows are then moved to where the statement starts: found in
the source, where the statement's code occurs exactly once (the code of a parsed module
is its source, character for character), else counted from the plain code of the
statements before it. The results are libcst's, node for node (a test compares them on
real files); only the work is smaller.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Dict, List, Optional, Protocol, Tuple

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

from .semantics import walk


class Positions(Protocol):
    def __getitem__(self, node: cst.CSTNode) -> CodeRange: ...


class NodePositions:
    """``positions[node]`` is the ``CodeRange`` libcst's ``PositionProvider`` gives."""

    def __init__(self, module: cst.Module, source: str) -> None:
        self._module = module
        self._source = source
        # Each node's range as generated, and the rows to add to it.
        self._known: Dict[cst.CSTNode, Tuple[CodeRange, int]] = {}
        self._statement_index: Optional[Dict[int, int]] = None
        self._line_starts: Optional[List[int]] = None
        self._counted_rows: List[int] = []  # the row each top-level statement starts on
        self._whole_module_done = False

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._known.get(node)
        if found is None:
            index = self._statement_holding(node)
            if index is None:  # the module itself, its header or footer, or a pure token
                self._generate_whole_module()
            else:
                self._generate_statement(index)
            found = self._known[node]
        where, shift = found
        return moved_down(where, shift)

    def _statement_holding(self, node: cst.CSTNode) -> Optional[int]:
        if self._statement_index is None:
            self._statement_index = {
                id(inner): index
                for index, statement in enumerate(self._module.body)
                for inner in walk.walk(statement)
            }
        return self._statement_index.get(id(node))

    def _generate_statement(self, index: int) -> None:
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self._module.default_indent,
            default_newline=self._module.default_newline,
            provider=provider,
        )
        self._module.body[index]._codegen(state)
        shift = self._first_row(index, "".join(state.tokens)) - 1
        for node, where in provider._computed.items():
            self._known[node] = (where, shift)

    def _first_row(self, index: int, code: str) -> int:
        """The row top-level statement ``index`` (whose code is ``code``) starts on."""
        offset = self._source.find(code)
        if offset >= 0 and self._source.find(code, offset + 1) < 0:
            if self._line_starts is None:
                self._line_starts = [0] + [m.end() for m in NEWLINE_RE.finditer(self._source)]
            return bisect_right(self._line_starts, offset)
        return self._counted_row(index)

    def _counted_row(self, index: int) -> int:
        module = self._module
        rows = self._counted_rows
        while len(rows) <= index:
            if rows:
                rows.append(rows[-1] + rows_in(module.code_for_node(module.body[len(rows) - 1])))
            else:
                rows.append(1 + sum(rows_in(module.code_for_node(line)) for line in module.header))
        return rows[index]

    def _generate_whole_module(self) -> None:
        if not self._whole_module_done:
            wrapper = MetadataWrapper(self._module, unsafe_skip_copy=True)
            for node, where in wrapper.resolve(PositionProvider).items():
                self._known[node] = (where, 0)
            self._whole_module_done = True


def moved_down(where: CodeRange, rows: int) -> CodeRange:
    if not rows:
        return where
    return CodeRange(
        CodePosition(where.start.line + rows, where.start.column),
        CodePosition(where.end.line + rows, where.end.column),
    )


def rows_in(code: str) -> int:
    """How many line ends ``code`` has, counted as libcst's position tracking does."""
    return len(NEWLINE_RE.findall(code))
