"""Parsing the successive versions of one document, reusing what did not change.

An editor sends the whole buffer after every pause in typing, and a libcst parse of a
1,000-line file takes longer than the language server may take to answer. Between two
versions almost every top-level statement is unchanged, and the code of a top-level
statement parses the same alone as in its file. So the text is cut into chunks that end
where a top-level statement ends (Python's own parser, many times faster than libcst's,
says where), each chunk is parsed alone or taken from the previous version, and the
chunks' statements are put together into one module.

The module is the one a whole parse gives, up to where comments between statements are
kept (a block's footer or the next statement's leading lines), which no analysis reads:
its code is the text, character for character, so positions are the same. Whenever that
cannot be guaranteed (a syntax error, lone carriage returns, chunks that disagree on the
file's newline or indentation), the text is parsed whole.
"""

from __future__ import annotations

import ast
import os
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Dict, List, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import CodeRange

from ..positions import NodePositions, Positions, moved_down, rows_in
from ..semantics import walk

_LINE_END = re.compile(r"\r\n|\n")
# A remembered 1,000-line file holds a few megabytes of syntax tree.
MAX_REMEMBERED_FILES = 32


@dataclass(frozen=True)
class _Chunk:
    text: str
    module: cst.Module
    # Whether some block of the chunk is indented by the module's default indentation,
    # which a chunk detects on its own: then chunks must agree on it.
    uses_default_indent: bool

    @cached_property
    def statements_after_the_first_chunk(self) -> Tuple[cst.BaseStatement, ...]:
        """The statements, the chunk's header (comments and blank lines before them) made
        the first one's leading lines: where a whole parse puts them."""
        statements = list(self.module.body)
        if self.module.header:
            head = statements[0]
            statements[0] = head.with_changes(leading_lines=(*self.module.header, *head.leading_lines))
        return tuple(statements)

    @cached_property
    def _nodes(self) -> Dict[int, cst.CSTNode]:
        """Every node of the chunk by id, the merged first statement standing for the
        parsed one (same place)."""
        nodes = {id(inner): inner for statement in self.module.body for inner in walk.walk(statement)}
        nodes[id(self.statements_after_the_first_chunk[0])] = self.module.body[0]
        return nodes

    @cached_property
    def _positions(self) -> NodePositions:
        return NodePositions(self.module, self.text)

    def position(self, node: cst.CSTNode) -> Optional[CodeRange]:
        """Where ``node`` is in the chunk (rows counted from its first line), if it is
        one of the chunk's: computed once for as long as the chunk is reused."""
        own = self._nodes.get(id(node))
        return None if own is None else self._positions[own]


class _AssembledPositions:
    """Positions in a module put together from chunks: each chunk's own, moved down to
    the row the chunk starts on."""

    def __init__(self, module: cst.Module, text: str, chunks: List[_Chunk]) -> None:
        self._chunks = chunks
        self._first_rows: List[int] = []
        row = 1
        for chunk in chunks:
            self._first_rows.append(row)
            row += rows_in(chunk.text)
        self._whole = NodePositions(module, text)  # for the module's own trivia

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        for chunk, first_row in zip(self._chunks, self._first_rows):
            where = chunk.position(node)
            if where is not None:
                return moved_down(where, first_row - 1)
        return self._whole[node]


def _accept(text: str) -> None:
    """A ``vet`` that refuses nothing."""


class IncrementalParser:
    """``parse(text)`` equals ``cst.parse_module(text)`` for analysis, reusing the
    statements of the previous text that are unchanged."""

    def __init__(self) -> None:
        self._chunks: Dict[str, _Chunk] = {}
        self._last: Optional[Tuple[cst.Module, Positions]] = None

    def positions_for(self, module: cst.Module) -> Optional[Positions]:
        """Positions in the module this parser gave last, reusing those of the chunks it
        reused (None for any other module)."""
        if self._last is not None and self._last[0] is module:
            return self._last[1]
        return None

    def parse(self, text: str, vet: Callable[[str], None] = _accept) -> cst.Module:
        """The module of ``text``. ``vet`` sees every text before libcst parses it (the
        new chunks, or the whole text) and may refuse it by raising: a chunk it refuses
        sends the whole text to it, so that the error is the whole text's."""
        self._last = None
        pieces = _split(text)
        module = None
        if pieces is not None and len(pieces) > 1:
            try:
                module = self._parse_pieces(text, pieces, vet)
            except Exception:  # a chunk refused or rejected: the whole text's error is reported
                module = None
        if module is None:
            self._chunks = {}
            vet(text)
            return cst.parse_module(text)
        return module

    def _parse_pieces(
        self, text: str, pieces: List[str], vet: Callable[[str], None]
    ) -> Optional[cst.Module]:
        chunks: List[_Chunk] = []
        used: Set[int] = set()
        for piece in pieces:
            chunk = self._chunks.get(piece)
            # The analysis tells nodes apart by identity: a chunk repeated in the text
            # (two identical statements) is parsed again, not shared.
            if chunk is None or id(chunk) in used:
                vet(piece)
                chunk = _parse_chunk(piece)
            used.add(id(chunk))
            chunks.append(chunk)
        # What the next version may reuse: this version's chunks.
        self._chunks = dict(zip(pieces, chunks))
        module = _assemble(chunks)
        if module is not None:
            self._last = (module, _AssembledPositions(module, text, chunks))
        return module


def _parse_chunk(piece: str) -> _Chunk:
    module = cst.parse_module(piece)
    uses_default_indent = any(
        isinstance(node, cst.IndentedBlock) and node.indent is None for node in walk.walk(module)
    )
    return _Chunk(piece, module, uses_default_indent)


def _split(text: str) -> Optional[List[str]]:
    """The text cut after the last line of each top-level statement that the next one
    does not share (None when Python cannot parse it, or rows would be ambiguous)."""
    if text.count("\r") != text.count("\r\n"):
        return None  # lone carriage returns: Python and libcst could count lines apart
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings of odd but valid code
            tree = ast.parse(text)  # parsing only: nothing is compiled to bytecode or run
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    statements = tree.body
    line_starts = [0] + [match.end() for match in _LINE_END.finditer(text)]
    cuts = [0]
    for before, after in zip(statements, statements[1:]):
        end = before.end_lineno or before.lineno
        if _first_line(after) > end and end < len(line_starts):
            cuts.append(line_starts[end])
    cuts.append(len(text))
    return [text[start:stop] for start, stop in zip(cuts, cuts[1:]) if stop > start]


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None) or []
    return min([statement.lineno] + [d.lineno for d in decorators])


def _assemble(chunks: List[_Chunk]) -> Optional[cst.Module]:
    first, last = chunks[0].module, chunks[-1].module
    newlines = {chunk.module.default_newline for chunk in chunks}
    indents = {chunk.module.default_indent for chunk in chunks if chunk.uses_default_indent}
    if len(newlines) > 1 or len(indents) > 1:
        return None
    body: List[cst.BaseStatement] = []
    for index, chunk in enumerate(chunks):
        if not chunk.module.body or (chunk.module.footer and index < len(chunks) - 1):
            return None
        body.extend(chunk.statements_after_the_first_chunk if index else chunk.module.body)
    return cst.Module(
        body=body,
        header=first.header,
        footer=last.footer,
        encoding=first.encoding,
        default_indent=indents.pop() if indents else first.default_indent,
        default_newline=newlines.pop(),
        has_trailing_newline=last.has_trailing_newline,
    )


class ParserMemory:
    """The incremental parser of each file a long-lived process (the daemon) checked, so
    that a file's next version re-parses only its changed statements. The files checked
    last are kept, the others forgotten."""

    def __init__(self, max_files: int = MAX_REMEMBERED_FILES) -> None:
        self._parsers: "OrderedDict[str, IncrementalParser]" = OrderedDict()
        self._max_files = max_files

    def __len__(self) -> int:
        return len(self._parsers)

    def parser_for(self, path: str) -> IncrementalParser:
        key = os.path.abspath(path)
        parser = self._parsers.pop(key, None) or IncrementalParser()
        self._parsers[key] = parser
        while len(self._parsers) > self._max_files:
            self._parsers.popitem(last=False)
        return parser
