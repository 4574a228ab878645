"""Jupyter notebooks: the code cells, in order, linted as one Python program.

A model built in cell 3 is known in cell 7 because the cells are joined into one program.
IPython syntax is masked line for line so that rows never shift: a magic, shell escape or
help line becomes ``pass`` at its own indentation (``files = !ls`` keeps its target:
``files = ...``), and the further lines of a backslash-continued command become empty.
Every position is then mapped back to (cell, row within the cell), the cell counted among
all cells, markdown included, as ruff counts them; a row ends where Python ends one, so at a
lone ``\\r`` too.

Fixes are applied to the cells' own sources, never to the masked program, and only the
changed cells' ``source`` values are spliced into the JSON text: outputs, metadata and the
layout of everything else stay byte for byte.
"""

from __future__ import annotations

import ast
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

from ..diagnostics import UNANALYZABLE_CODE, Diagnostic, Edit, Fix, Position, sort_diagnostics
from ..fixes import fix_python_text
from .lint import lint_text, unanalyzable
from .sources import LONE_CR, SourceError, decode_json_text, encode_text
from .suppression import apply_suppressions, file_suppression

SourceValue = Union[str, List[str]]

# Kernel languages read as Python (``language_info.name`` or ``kernelspec.language``).
_PYTHON_LANGUAGE = re.compile(r"i?python[0-9.]*", re.IGNORECASE)

# Cell magics whose body is Python run in the notebook's namespace; a cell under any
# other cell magic (%%bash, %%writefile, %%html, ...) is not Python and is skipped.
_PYTHON_CELL_MAGICS = frozenset({"capture", "debug", "memit", "prun", "time", "timeit"})

# A statement starting with one of these is IPython syntax, never Python: line magics,
# shell escapes, help (``?obj``) and the autocall escapes ``/f a``, ``,f a``, ``;f a``.
_ESCAPE_START = re.compile(r"[ \t]*[%!?/,;]")
# ``files = !ls`` and ``result = %timeit -o f()``: the target stays, so the name is bound.
_ASSIGNED_ESCAPE = re.compile(
    r"(?P<target>[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=)[ \t]*[%!]"
)
# Line magics IPython also runs without the ``%`` (automagic): ``pip install keras``.
# Only masked when the line is not valid Python as it stands (``ls -la`` is a subtraction).
_AUTOMAGIC = re.compile(
    r"[ \t]*(?:alias|autoreload|cat|cd|clear|conda|config|cp|env|history|less|load_ext|ls"
    r"|mamba|matplotlib|mkdir|mv|pip|prun|pwd|pylab|reload_ext|reset|rm|rmdir|run|set_env"
    r"|store|tensorboard|time|timeit|unload_ext|who|whos|xmode)"
    r"[ \t]+(?!(?:if|else|and|or|not|in|is|for)\b)[^\s=(\[]"
)
_CELL_MAGIC_NAME = re.compile(r"[ \t]*%%(\S*)")
# How rule messages refer to another line of the file.
_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")

# Separates the cells' sources in the text the fix loop works on (private-use characters,
# so no real source contains it).
_CELL_BOUNDARY = "\ue000kerascheck cell boundary\ue000\n"
# Stands for a lone "\r" in that text, whose rows end only at "\n": the "\n" keeps them the
# rows Python counts, the private-use character brings the "\r" back.
_LONE_CR_MARK = "\ue001\n"


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCell:
    number: int  # 1-based among all of the notebook's cells
    source: str  # as written, lines joined


@dataclass(frozen=True)
class Notebook:
    text: str  # the decoded JSON
    encoding: str
    newline: str
    document: dict  # the parsed JSON
    code_cells: Tuple[CodeCell, ...]

    @property
    def is_python(self) -> bool:
        language = _kernel_language(self.document.get("metadata"))
        return language is None or _PYTHON_LANGUAGE.fullmatch(language.strip()) is not None


def read_notebook(data: bytes) -> Notebook:
    """Parse nbformat 4 JSON; a malformed notebook raises ``SourceError`` saying why."""
    decoded = decode_json_text(data)
    try:
        document = json.loads(decoded.text)
    except json.JSONDecodeError as error:
        raise SourceError(
            f"notebook is not valid JSON, not analyzed: {error.msg}", error.lineno, error.colno - 1
        ) from None
    except (ValueError, RecursionError) as error:
        raise SourceError(f"notebook could not be read, not analyzed: {error}") from None
    if not isinstance(document, dict):
        raise SourceError(f"notebook is {_json_type(document)}, not a JSON object: not analyzed")
    return Notebook(
        decoded.text, decoded.encoding, decoded.newline, document, tuple(_code_cells(document))
    )


def _code_cells(document: dict) -> List[CodeCell]:
    cells = document.get("cells")
    if not isinstance(cells, list):
        raise SourceError("notebook has no `cells` list (only nbformat 4 is read): not analyzed")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise SourceError(
                f"notebook cell {number} is {_json_type(cell)}, not a JSON object: not analyzed"
            )
        if "source" not in cell:
            raise SourceError(f"notebook cell {number} has no `source`: not analyzed")
        source = _source_text(cell["source"])
        if source is None:
            what = (
                "a list with a non-text line"
                if isinstance(cell["source"], list)
                else _json_type(cell["source"])
            )
            raise SourceError(
                f"notebook cell {number} has a `source` that is {what}, not text: not analyzed"
            )
        if cell.get("cell_type") == "code":
            code.append(CodeCell(number, source))
    return code


def _kernel_language(metadata: object) -> Optional[str]:
    """The language the kernel that wrote the notebook runs; ``None`` when not given.
    ``language_info`` comes from the kernel itself, so it wins over ``kernelspec``."""
    if not isinstance(metadata, dict):
        return None
    for section, key in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(section)
        if isinstance(value, dict) and isinstance(value.get(key), str) and value[key].strip():
            return value[key]
    return None


def _source_text(source: object) -> Optional[str]:
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


_JSON_TYPES = ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list"))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "an object")


# ---- masking IPython syntax ------------------------------------------------------------------


def cell_lines(source: str) -> List[str]:
    """The cell's rows, as Python, libcst and IPython count them: a lone ``\\r`` ends a row
    as ``\\n`` does (the ``\\r`` of ``\\r\\n`` stays at the end of its row's text, as in the
    rest of kerascheck). A final line break ends the last row, it does not start another."""
    lines = LONE_CR.sub("\n", source).split("\n")
    return lines[:-1] if lines[-1] == "" else lines


@dataclass(frozen=True)
class MaskedCell:
    lines: Tuple[str, ...]  # the cell as plain Python, row for row
    masked_rows: FrozenSet[int]  # the 1-based rows that held IPython syntax

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def mask_cell(source: str) -> Optional[MaskedCell]:
    """The cell as plain Python with the same rows, or ``None`` for a cell that is not
    Python (one under a cell magic such as ``%%bash``)."""
    lines = cell_lines(source)
    masker = _Masker(lines)
    first = next((row for row, line in enumerate(lines) if line.strip()), len(lines))
    if first < len(lines) and lines[first].lstrip().startswith("%%"):
        magic = _CELL_MAGIC_NAME.match(lines[first])
        if magic is None or magic.group(1) not in _PYTHON_CELL_MAGICS:
            return None
        masker.mask(first, first, "pass")
        first += 1
    masker.mask_statements(first)
    return MaskedCell(tuple(masker.masked), frozenset(masker.masked_rows))


class _Masker:
    """Replaces a cell's IPython lines, keeping every row where it is."""

    def __init__(self, lines: List[str]) -> None:
        self.lines = lines
        self.masked = list(lines)
        self.masked_rows: set = set()

    def mask(self, first: int, last: int, replacement: Optional[str] = None) -> None:
        """Lines ``first..last`` (0-based) become one neutral statement and empty lines."""
        line = self.lines[first]
        self.masked[first] = replacement or line[: len(line) - len(line.lstrip())] + "pass"
        for index in range(first + 1, last + 1):
            self.masked[index] = ""
        self.masked_rows.update(range(first + 1, last + 2))

    def mask_statements(self, index: int) -> None:
        """Mask every statement from line ``index`` on that is IPython syntax. Escapes
        only count where a statement starts: ``%`` inside brackets is a modulo."""
        scanner = _Scanner()
        while index < len(self.lines):
            line = self.lines[index]
            if _is_escape(line):
                last = self._continued(index)
                assigned = _ASSIGNED_ESCAPE.match(line)
                self.mask(index, last, assigned.group("target") + " ..." if assigned else None)
                index = last + 1
                continue
            first, asks_help = index, False
            while index < len(self.lines):
                asks_help = scanner.feed(self.lines[index]) or asks_help
                index += 1
                if scanner.at_statement_start:
                    break
            if asks_help:  # ``model.fit?`` or ``model.fit??``
                self.mask(first, index - 1)

    def _continued(self, index: int) -> int:
        """The last line of a command that a trailing backslash continues."""
        while index + 1 < len(self.lines) and self.lines[index].rstrip("\r").endswith("\\"):
            index += 1
        return index


def _is_escape(line: str) -> bool:
    if _ESCAPE_START.match(line) or _ASSIGNED_ESCAPE.match(line):
        return True
    return _AUTOMAGIC.match(line) is not None and not _parses(line.strip())


def _parses(statement: str) -> bool:
    try:
        ast.parse(statement)  # parsing only: nothing is compiled to bytecode or run
    except (SyntaxError, ValueError):
        return False
    return True


class _Scanner:
    """Follows brackets, strings and backslash continuations from line to line, so that
    the masker knows where each statement starts."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote = ""  # the quote of a string left open at the end of the last line
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return not (self.depth or self.quote or self.continued)

    def feed(self, line: str) -> bool:
        """Scan one line; whether it has a ``?`` outside strings and comments."""
        line = line.rstrip("\r")
        self.continued = False
        asks_help = False
        index = 0
        while index < len(line):
            char = line[index]
            if self.quote:
                index = self._past_string(line, index)
                continue
            if char == "#":
                break
            if char in "'\"":
                self.quote = char * 3 if line.startswith(char * 3, index) else char
                index += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(self.depth - 1, 0)
            elif char == "?":
                asks_help = True
            elif char == "\\" and index == len(line) - 1:
                self.continued = True
            index += 1
        if len(self.quote) == 1 and not line.endswith("\\"):
            self.quote = ""  # an unterminated one-line string: a syntax error, not our concern
        return asks_help

    def _past_string(self, line: str, index: int) -> int:
        while index < len(line):
            if line[index] == "\\":
                index += 2
            elif line.startswith(self.quote, index):
                index += len(self.quote)
                self.quote = ""
                return index
            else:
                index += 1
        return index


# ---- the program and its positions -----------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """Where one Python code cell sits in the program."""

    cell: int
    first_row: int
    lines: Tuple[str, ...]  # the cell's rows as written
    masked: MaskedCell

    def relative(self, position: Position) -> Position:
        return Position(position.row - self.first_row + 1, position.column)

    @property
    def end(self) -> Position:
        return Position(len(self.lines), len(self.lines[-1]))

    def line(self, row: int) -> str:
        return self.lines[row - 1]

    def edit(self, edit: Edit) -> Optional[Edit]:
        """``edit`` in cell rows; ``None`` when it would reach past the cell or change a
        line of IPython syntax (whose masked text is not what the cell holds)."""
        start, end = self.relative(edit.start), self.relative(edit.end)
        appends = start == end == Position(len(self.lines) + 1, 0)
        if (end > self.end and not appends) or self.masked.masked_rows.intersection(
            range(start.row, end.row + 1)
        ):
            return None
        return Edit(start, end, edit.content, self.cell)


class _Program:
    """The Python code cells joined into one masked program, and the way back."""

    def __init__(self, cells: Sequence[CodeCell]) -> None:
        self.segments: List[_Segment] = []
        row = 1
        for cell in cells:
            masked = mask_cell(cell.source)
            if masked is None or not masked.lines:
                continue
            self.segments.append(_Segment(cell.number, row, tuple(cell_lines(cell.source)), masked))
            row += len(masked.lines)
        self.text = "".join(segment.masked.text for segment in self.segments)
        self._first_rows = [segment.first_row for segment in self.segments]

    def segment_at(self, row: int) -> _Segment:
        """The cell holding a program row (the last cell for a row past the end)."""
        return self.segments[max(bisect_right(self._first_rows, row) - 1, 0)]

    def in_cell(self, diagnostic: Diagnostic) -> Diagnostic:
        segment = self.segment_at(diagnostic.start.row)
        start = min(segment.relative(diagnostic.start), segment.end)
        end = max(min(segment.relative(diagnostic.end), segment.end), start)
        fix = self._fix_in_cells(diagnostic.fix) if diagnostic.fix else None
        return diagnostic.with_changes(
            message=self._lines_in_cells(diagnostic.message, segment.cell),
            help=self._lines_in_cells(diagnostic.help, segment.cell) if diagnostic.help else None,
            start=start,
            end=end,
            cell=segment.cell,
            fix=fix,
            source_line=segment.line(start.row),
            end_source_line=segment.line(end.row),
        )

    def _lines_in_cells(self, text: str, cell: int) -> str:
        """Messages name other lines by program row ("allocated once (line 4)"); say the
        row within its cell instead, and the cell when it is another one."""

        def in_cell(match: re.Match[str]) -> str:
            row = int(match.group(1))
            segment = self.segment_at(row)
            if not segment.first_row <= row < segment.first_row + len(segment.lines):
                return match.group(0)
            where = f"line {row - segment.first_row + 1}"
            return where if segment.cell == cell else f"cell {segment.cell}, {where}"

        return _LINE_REFERENCE.sub(in_cell, text)

    def _fix_in_cells(self, fix: Fix) -> Optional[Fix]:
        edits = [self.segment_at(edit.start.row).edit(edit) for edit in fix.edits]
        if any(edit is None for edit in edits):
            return None  # a fix the cells cannot take is dropped; the finding stays
        return replace(fix, edits=tuple(edits))


def _lint_program(program: _Program, path: str, codes: Sequence[str]) -> List[Diagnostic]:
    """Findings in cell coordinates, after each cell's ``# noqa`` comments and the
    notebook-wide ``# kerascheck: noqa`` comments (in any cell)."""
    found = [program.in_cell(d) for d in lint_text(program.text, path, codes, suppress=False)]
    if not found:
        return found
    file_level = file_suppression(program.text)
    kept: List[Diagnostic] = []
    for segment in program.segments:
        in_cell = [d for d in found if d.cell == segment.cell]
        kept.extend(apply_suppressions(in_cell, segment.masked.text, file_level))
    return sort_diagnostics(kept)


def lint_notebook(data: bytes, path: str, codes: Sequence[str]) -> List[Diagnostic]:
    """Every finding in a notebook's Python code cells, positions in cell rows; a
    notebook in another language gives none, a malformed one a KC900 finding."""
    try:
        notebook = read_notebook(data)
    except SourceError as error:
        if UNANALYZABLE_CODE not in codes:
            return []
        return [unanalyzable(path, error.message, error.row, error.column)]
    if not notebook.is_python:
        return []
    return _lint_program(_Program(notebook.code_cells), path, codes)


# ---- fixes -----------------------------------------------------------------------------------


def fix_notebook(
    data: bytes, path: str, codes: Sequence[str], unsafe: bool
) -> Tuple[bytes, List[Diagnostic]]:
    """Apply the wanted fixes; only the changed cells' ``source`` values are rewritten.
    Returns the new bytes (``data`` itself when nothing changed) and the fixed findings
    in cell coordinates."""
    try:
        notebook = read_notebook(data)
    except SourceError:
        return data, []
    cells = notebook.code_cells
    if not notebook.is_python or any(
        mark in cell.source for cell in cells for mark in (_CELL_BOUNDARY, _LONE_CR_MARK)
    ):
        return data, []  # a source holding a mark could not be told apart from the mark
    fixer = _CellFixer(cells, path, codes)
    outcome = fix_python_text(fixer.joined(), fixer.lint, unsafe=unsafe, validate=fixer.parses)
    changed = {
        cell.number: source
        for cell, source in zip(cells, fixer.sources(outcome.text))
        if source != cell.source
    }
    if not changed:
        return data, []
    text = _splice_sources(notebook, changed)
    return encode_text(text, notebook.encoding), sort_diagnostics(
        [fixer.in_cells(d) for d in outcome.fixed]
    )


class _CellFixer:
    """Lets the fix loop edit the cells' own sources (not the masked program): it works on
    the sources joined with boundary lines, and its lint lints the masked program and
    hands back each fix shifted to the joined text's rows."""

    def __init__(self, cells: Sequence[CodeCell], path: str, codes: Sequence[str]) -> None:
        self.cells = cells
        self.path = path
        self.codes = codes
        # id of a finding given to the fix loop -> (that finding, the finding in cell rows)
        self._found: Dict[int, Tuple[Diagnostic, Diagnostic]] = {}

    def joined(self) -> str:
        return "".join(_CELL_BOUNDARY + _text_to_fix(cell.source) for cell in self.cells)

    def sources(self, joined: str) -> List[str]:
        """The cells' sources again, from their pieces of ``joined``."""
        return [
            _source_again(cell.source, piece)
            for cell, piece in zip(self.cells, joined.split(_CELL_BOUNDARY)[1:])
        ]

    def lint(self, joined: str) -> List[Diagnostic]:
        rows_before = self._rows_before(joined)
        out = []
        for diagnostic in _lint_program(self._program(joined), self.path, self.codes):
            rows = rows_before[diagnostic.cell]
            shifted = diagnostic.with_changes(
                cell=None,
                start=_shifted(diagnostic.start, rows),
                end=_shifted(diagnostic.end, rows),
                fix=_shifted_fix(diagnostic.fix, rows_before) if diagnostic.fix else None,
            )
            self._found[id(shifted)] = (shifted, diagnostic)
            out.append(shifted)
        return out

    def parses(self, joined: str) -> bool:
        """Whether the program the fixed sources make still parses."""
        from .analysis import parse  # only once a fix was made: libcst is loaded by then

        try:
            parse(self._program(joined).text)
        except Exception:  # libcst raises several types on invalid code
            return False
        return True

    def in_cells(self, shifted: Diagnostic) -> Diagnostic:
        return self._found[id(shifted)][1]

    def _program(self, joined: str) -> _Program:
        return _Program(
            [replace(cell, source=s) for cell, s in zip(self.cells, self.sources(joined))]
        )

    def _rows_before(self, joined: str) -> Dict[int, int]:
        """Cell number -> how many rows of ``joined`` come before the cell's first row."""
        rows_before: Dict[int, int] = {}
        row = 0
        for cell, piece in zip(self.cells, joined.split(_CELL_BOUNDARY)[1:]):
            row += 1  # the boundary line
            rows_before[cell.number] = row
            row += piece.count("\n")
        return rows_before


def _text_to_fix(source: str) -> str:
    """A cell's source as the fix loop sees it: each lone "\\r" marked, a newline at the end."""
    marked = LONE_CR.sub(_LONE_CR_MARK, source)
    return marked if marked.endswith("\n") or not marked else marked + "\n"


def _source_again(original: str, piece: str) -> str:
    """The source of the cell that was ``original`` from its piece of the fix loop's text:
    each lone "\\r" back, without the newline :func:`_text_to_fix` added at the end."""
    source = piece.replace(_LONE_CR_MARK, "\r")
    if original.endswith(("\n", "\r")) or not source.endswith("\n"):
        return source
    return source[:-1]


def _shifted(position: Position, rows: int) -> Position:
    return Position(position.row + rows, position.column)


def _shifted_fix(fix: Fix, rows_before: Dict[int, int]) -> Fix:
    """``fix`` (its edits in cell rows, each edit with its cell) in the joined text's rows."""
    edits = tuple(
        Edit(
            _shifted(e.start, rows_before[e.cell]), _shifted(e.end, rows_before[e.cell]), e.content
        )
        for e in fix.edits
    )
    return replace(fix, edits=edits)


# ---- writing sources back into the JSON text -------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_INDENTATION = re.compile(r"[ \t]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class _Layout:
    """How the notebook's JSON was written, so a rewritten value looks the same."""

    indent: Optional[str]
    ensure_ascii: bool
    newline: str

    @classmethod
    def of(cls, text: str, newline: str) -> "_Layout":
        indented = re.search(r"\n([ \t]+)\S", text)
        escapes_non_ascii = text.isascii() and any(
            int(code, 16) > 0x7F for code in re.findall(r"\\u([0-9a-fA-F]{4})", text)
        )
        return cls(indented.group(1) if indented else None, escapes_non_ascii, newline)

    def dump(self, value: SourceValue, line_indent: str) -> str:
        """``value`` as JSON, nested lines indented from the line it starts on."""
        dumped = json.dumps(value, indent=self.indent, ensure_ascii=self.ensure_ascii)
        return dumped.replace("\n", self.newline + line_indent)


def _splice_sources(notebook: Notebook, changed: Dict[int, str]) -> str:
    """The JSON text with the ``source`` of each changed cell (by number) replaced, in
    the form it had (a list of lines or one string); every other byte stays."""
    text = notebook.text
    layout = _Layout.of(text, notebook.newline)
    spans = _source_spans(text)
    for number in sorted(changed, reverse=True):
        start, end = spans[number - 1]
        was_list = isinstance(notebook.document["cells"][number - 1]["source"], list)
        value: SourceValue = _lines_with_ends(changed[number]) if was_list else changed[number]
        line_start = text.rfind("\n", 0, start) + 1
        indent = _INDENTATION.match(text, line_start).group()
        text = text[:start] + layout.dump(value, indent) + text[end:]
    return text


def _lines_with_ends(source: str) -> List[str]:
    """Jupyter's list form: one item per row, each ending with its line break but the last
    (nbformat splits at a lone "\\r" too, where the row ends)."""
    return re.findall(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+", source)


def _source_spans(text: str) -> List[Tuple[int, int]]:
    """Where each cell's ``source`` value is in the JSON text (already known to be a
    well-formed notebook)."""
    cells_start, _ = _members(text, _WHITESPACE.match(text).end())["cells"]
    return [_members(text, start)["source"] for start, _ in _elements(text, cells_start)]


def _members(text: str, index: int) -> Dict[str, Tuple[int, int]]:
    """The span of each member's value in the JSON object at ``index`` (for a repeated
    key the last, as ``json.loads`` keeps)."""
    spans: Dict[str, Tuple[int, int]] = {}
    index = _WHITESPACE.match(text, index + 1).end()
    while text[index] != "}":
        key, index = _DECODER.raw_decode(text, index)
        start = _WHITESPACE.match(text, _WHITESPACE.match(text, index).end() + 1).end()
        _, index = _DECODER.raw_decode(text, start)
        spans[key] = (start, index)
        index = _after_separator(text, index)
    return spans


def _elements(text: str, index: int) -> List[Tuple[int, int]]:
    """The span of each element of the JSON array at ``index``."""
    spans = []
    index = _WHITESPACE.match(text, index + 1).end()
    while text[index] != "]":
        _, end = _DECODER.raw_decode(text, index)
        spans.append((index, end))
        index = _after_separator(text, end)
    return spans


def _after_separator(text: str, index: int) -> int:
    index = _WHITESPACE.match(text, index).end()
    if text[index] == ",":
        index = _WHITESPACE.match(text, index + 1).end()
    return index
