"""``# noqa`` comments (line level, flake8/ruff style) and ``# kerascheck: noqa`` (file level)."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional

from ..diagnostics import Diagnostic, Edit, Position

_CODES = r"[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*"
# ``# noqa``, ``# noqa: KC001``, ``# noqa:KC001,KC002``, ``# NOQA: KC001 KC002``
_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>" + _CODES + r"))?", re.IGNORECASE)
# A comment on a line of its own: ``# kerascheck: noqa`` or ``# kerascheck: noqa: KC003``
_FILE_NOQA = re.compile(
    r"^[ \t]*#[ \t]*kerascheck:[ \t]*noqa(?:[ \t]*:[ \t]*(?P<codes>" + _CODES + r"))?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_SPLIT = re.compile(r"[\s,]+")
_ANY_NOQA = re.compile("noqa", re.IGNORECASE)

# Every code suppressed (a bare noqa).
ALL = frozenset({"*"})


@dataclass(frozen=True)
class FileSuppression:
    """What ``# kerascheck: noqa`` comments suppress in a whole file."""

    codes: FrozenSet[str]

    @property
    def everything(self) -> bool:
        return "*" in self.codes

    def suppresses(self, code: str) -> bool:
        return self.everything or code in self.codes


def file_suppression(text: str) -> FileSuppression:
    codes: set = set()
    for match in _FILE_NOQA.finditer(text):
        if match.group("codes"):
            codes.update(c.upper() for c in _SPLIT.split(match.group("codes").strip()) if c)
        else:
            codes.add("*")
    return FileSuppression(frozenset(codes))


def _comments(text: str) -> Dict[int, str]:
    """Row -> comment text. Falls back to a plain scan when tokenizing fails."""
    comments: Dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        for row, line in enumerate(text.splitlines(), start=1):
            if "#" in line:
                comments.setdefault(row, line[line.index("#") :])
    return comments


def line_noqa(text: str) -> Dict[int, FrozenSet[str]]:
    """Row -> codes a ``# noqa`` on that row suppresses (``ALL`` for a bare one)."""
    table: Dict[int, FrozenSet[str]] = {}
    if _ANY_NOQA.search(text) is None:
        return table  # without tokenizing the whole file to find its comments
    for row, comment in _comments(text).items():
        match = _LINE_NOQA.search(comment)
        if not match:
            continue
        if match.group("codes"):
            table[row] = frozenset(c.upper() for c in _SPLIT.split(match.group("codes")) if c)
        else:
            table[row] = ALL
    return table


def apply_suppressions(
    diagnostics: List[Diagnostic],
    text: str,
    file_level: Optional[FileSuppression] = None,
) -> List[Diagnostic]:
    if not diagnostics:
        return diagnostics
    file_level = file_level or file_suppression(text)
    noqa = line_noqa(text)
    kept = []
    for diagnostic in diagnostics:
        if file_level.suppresses(diagnostic.code):
            continue
        codes = noqa.get(diagnostic.start.row)
        if codes is not None and (codes is ALL or "*" in codes or diagnostic.code in codes):
            continue
        kept.append(diagnostic)
    return kept


def noqa_edit(text: str, row: int, code: str) -> Edit:
    """The edit that suppresses ``code`` on ``row`` (1-based): adds the code to the row's
    ``# noqa: ...`` comment, or appends ``  # noqa: CODE`` to the row."""
    line = text.split("\n")[row - 1].rstrip("\r")
    end = len(line.rstrip())
    comment = _comments(text).get(row, "")
    match = _LINE_NOQA.search(comment)
    if match and match.group("codes"):
        comment_start = end - len(comment.rstrip())
        at = Position(row, comment_start + match.end("codes"))
        return Edit(at, at, f", {code}")
    # Trailing whitespace is replaced, so the comment sits two spaces after the code (PEP 8).
    return Edit(Position(row, end), Position(row, len(line)), f"  # noqa: {code}")
