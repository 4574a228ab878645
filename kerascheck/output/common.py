"""What every output format shares: the options, position conversions and labels.

Internally a position is a 1-based row and a 0-based column counted in Unicode code points
(see :mod:`kerascheck.diagnostics`); each format converts at the last moment with the
helpers here, so no format re-derives a unit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from ..diagnostics import Applicability, Diagnostic
from ..catalog import DOCS_URL


@dataclass(frozen=True)
class OutputOptions:
    root: Path  # the project root: SARIF URIs are relative to it
    cwd: Path  # diagnostics' paths are as the user gave them: relative to this, or absolute
    rule_codes: Sequence[str]  # the enabled rules (SARIF describes every one of them)
    color: bool = False
    # Unsafe fixes count as fixable (and get the `[*]` marker) only when they are enabled.
    unsafe_fixes: bool = False
    show_fix_hints: bool = True
    files_checked: int = 0


def rule_url(code: str) -> str:
    return DOCS_URL.format(code=code)


def one_based(column: int) -> int:
    return column + 1


def printable_path(path: str) -> str:
    """``path`` for a text format: a byte of the name that is not UTF-8, which Python holds
    as a lone surrogate that no UTF-8 output can write, is shown as ``\\xff``."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (a Windows name)
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def text_location(diagnostic: Diagnostic) -> str:
    """``path:row:col`` (1-based column), with the cell for notebooks: ``nb.ipynb:cell 5:3:5``."""
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    row, column = diagnostic.start.row, one_based(diagnostic.start.column)
    return f"{printable_path(diagnostic.path)}:{cell}{row}:{column}"


def notebook_prefix(diagnostic: Diagnostic) -> str:
    """Where a notebook finding is, for formats whose line numbers can only point into the
    raw ``.ipynb`` JSON (GitHub annotations, SARIF): ``"cell 5, line 3: "``, else ``""``."""
    if diagnostic.cell is None:
        return ""
    return f"cell {diagnostic.cell}, line {diagnostic.start.row}: "


def is_fixable(diagnostic: Diagnostic, unsafe_fixes: bool) -> bool:
    """Whether ``--fix`` would apply this finding's fix (unsafe ones need ``--unsafe-fixes``)."""
    fix = diagnostic.fix
    if fix is None:
        return False
    return fix.applicability is Applicability.SAFE or unsafe_fixes


def has_hidden_fix(diagnostic: Diagnostic, unsafe_fixes: bool) -> bool:
    """Whether the finding has an unsafe fix that ``--unsafe-fixes`` would enable."""
    return diagnostic.fix is not None and not is_fixable(diagnostic, unsafe_fixes)


def absolute_path(path: Union[str, Path], cwd: Path) -> Path:
    """The normalized absolute path of a path given relative to ``cwd`` (or absolute).

    Normalized lexically, without resolving symbolic links, so the path stays the one the
    user sees under the project root.
    """
    return Path(os.path.normpath(cwd / path))


def end_line_text(diagnostic: Diagnostic) -> Optional[str]:
    """The text of the last flagged line (the first line's text when the range has one line
    and the diagnostic was made without ``end_source_line``)."""
    if diagnostic.end_source_line is not None or diagnostic.end.row != diagnostic.start.row:
        return diagnostic.end_source_line
    return diagnostic.source_line
