"""Linting one source text: trigger check, one parse, one batched traversal, suppressions.

This is the single implementation behind ``check``, ``--fix``, the cache, notebooks and
the language server. It decides from the text alone (file-level ``noqa``, the rules'
triggers in the catalog) whether the file is worth parsing; only then is the libcst side
(``analysis``) imported, so a run whose files no trigger matches never loads libcst.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence

from ..catalog import rules_to_run
from ..diagnostics import (
    UNANALYZABLE_CODE,
    UNANALYZABLE_NAME,
    Diagnostic,
    Position,
    Severity,
    sort_diagnostics,
)
from .suppression import apply_suppressions, file_suppression

if TYPE_CHECKING:  # pragma: no cover
    from .incremental import IncrementalParser


def unanalyzable(path: str, message: str, row: int = 1, column: int = 0) -> Diagnostic:
    return Diagnostic(
        code=UNANALYZABLE_CODE,
        name=UNANALYZABLE_NAME,
        message=message,
        path=path,
        start=Position(row, column),
        end=Position(row, column),
        severity=Severity.ERROR,
    )


def lint_text(
    text: str,
    path: str,
    codes: Sequence[str],
    *,
    suppress: bool = True,
    incremental: Optional["IncrementalParser"] = None,
) -> List[Diagnostic]:
    """Every finding of the selected rules in a Python source text, sorted. An editor
    passes the ``incremental`` parser of the document, which reuses what is unchanged."""
    codes = tuple(codes)
    if file_suppression(text).everything:
        return []
    running = rules_to_run(text, codes)
    if not running:
        return []
    from .analysis import parse_and_lint

    return parse_and_lint(text, path, codes, running, suppress=suppress, incremental=incremental)


def finish(
    diagnostics: List[Diagnostic],
    text: str,
    codes: Iterable[str],
    suppress: bool,
) -> List[Diagnostic]:
    """The findings of the selected rules, suppressions applied, sorted."""
    enabled = set(codes)
    diagnostics = [d for d in diagnostics if d.code in enabled]
    if suppress:
        diagnostics = apply_suppressions(diagnostics, text, file_suppression(text))
    return sort_diagnostics(diagnostics)
