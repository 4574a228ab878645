"""Linting one source text: trigger check, one parse, one batched traversal, suppressions.

This is the single implementation behind ``check``, ``--fix``, the cache, notebooks and
the language server.
"""

from __future__ import annotations

import ast
import re
import sys
import traceback
from functools import lru_cache
from typing import Iterable, List, Optional, Pattern, Sequence, Tuple, Type

import libcst as cst

from ..context import FileContext
from ..diagnostics import (
    UNANALYZABLE_CODE,
    UNANALYZABLE_NAME,
    Diagnostic,
    Position,
    Severity,
    sort_diagnostics,
)
from ..registry import Rule, Trigger, rules_for
from ..semantics import walk
from .nesting import find_excess_nesting
from .sources import SourceError
from .suppression import FileSuppression, apply_suppressions, file_suppression

# libcst's parser and visitors recurse once per nesting level; deeply nested (often
# generated) code needs more than Python's default 1000 frames. Beyond this the file
# is reported as KC900 rather than risking the interpreter's C stack.
RECURSION_LIMIT = 12_000
# Parsing and analysing take tens of seconds per million characters of Keras code; real
# training code stays far below this, larger texts are generated code or data.
MAX_SOURCE_CHARS = 1_000_000


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


@lru_cache(maxsize=64)
def _selection(codes: Tuple[str, ...]) -> Tuple[Tuple[Type[Rule], ...], Tuple[Trigger, ...]]:
    rules = tuple(rules_for(codes))
    # KC900 is a by-product of parsing, not a reason to parse: a file no analysis rule
    # could match is skipped unparsed (unless KC900 is all that is selected).
    analysis = [r for r in rules if r.code != UNANALYZABLE_CODE] or list(rules)
    return rules, tuple(r.trigger for r in analysis)


def could_match(text: str, codes: Sequence[str]) -> bool:
    """Whether any selected rule's trigger occurs in ``text`` (else parsing is pointless)."""
    _, triggers = _selection(tuple(codes))
    return any(trigger.matches(text) for trigger in triggers)


def parse(text: str) -> cst.Module:
    """libcst's parse, refusing first (SourceError) what would stall it or crash the
    interpreter: huge texts, and nesting that overflows its native stack."""
    if len(text) > MAX_SOURCE_CHARS:
        raise SourceError(
            f"file has {len(text) / 1e6:.1f} million characters of code, over the limit of "
            f"{MAX_SOURCE_CHARS / 1e6:g} million: not analyzed"
        )
    excess = find_excess_nesting(text)
    if excess is not None:
        raise SourceError(excess.message, excess.row, excess.column)
    limit = sys.getrecursionlimit()
    if limit < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    return cst.parse_module(text)


def lint_text(
    text: str,
    path: str,
    codes: Sequence[str],
    *,
    suppress: bool = True,
) -> List[Diagnostic]:
    """Every finding of the selected rules in a Python source text, sorted."""
    codes = tuple(codes)
    file_level = file_suppression(text)
    if file_level.everything or not could_match(text, codes):
        return []
    try:
        module = parse(text)
    except SourceError as error:  # too large or nested too deeply to parse safely
        found = unanalyzable(path, error.message, error.row, error.column)
        return _finish([found], text, codes, file_level, suppress)
    except cst.ParserSyntaxError as error:
        return _finish([_syntax_error(path, text, error)], text, codes, file_level, suppress)
    except RecursionError:
        return _finish(
            [unanalyzable(path, "file is nested too deeply to parse, not analyzed")],
            text,
            codes,
            file_level,
            suppress,
        )
    except Exception as error:  # libcst raises a few other types on odd input
        _reraise_interrupt(error)
        return _finish(
            [unanalyzable(path, f"file could not be parsed ({type(error).__name__}: {error})")],
            text,
            codes,
            file_level,
            suppress,
        )
    return lint_module(module, text, path, codes, suppress=suppress)


def _reraise_interrupt(error: Exception) -> None:
    """Cleanup code that fails while Ctrl-C unwinds (libcst's position provider does)
    replaces the KeyboardInterrupt with its own error: the interrupt must still stop the
    run, not become a KC900 finding."""
    context = error.__context__
    while context is not None:
        if isinstance(context, KeyboardInterrupt):
            raise context
        context = context.__context__


def _syntax_error(path: str, text: str, error: cst.ParserSyntaxError) -> Diagnostic:
    """Python's own message and position when it agrees the file is invalid (libcst's
    are less precise); libcst's when only libcst rejects it (syntax newer than it knows)."""
    try:
        ast.parse(text)  # parsing only: nothing is compiled to bytecode or run
    except SyntaxError as python_error:
        row = python_error.lineno or 1
        column = max((python_error.offset or 1) - 1, 0)
        return unanalyzable(path, f"syntax error, file not analyzed: {python_error.msg}", row, column)
    except (ValueError, RecursionError, MemoryError):
        pass
    return unanalyzable(
        path,
        f"libcst cannot parse this file, not analyzed: {error.message}",
        error.raw_line,
        max(error.raw_column, 0),
    )


def lint_module(
    module: cst.Module,
    text: str,
    path: str,
    codes: Sequence[str],
    *,
    suppress: bool = True,
) -> List[Diagnostic]:
    rules, _ = _selection(tuple(codes))
    context = FileContext(path, text, module)
    visitors = [rule(context) for rule in rules]
    try:
        if visitors:
            walk.visit_batched(module, visitors)
        diagnostics = context.diagnostics() if context.has_reports else []
    except RecursionError:
        diagnostics = [unanalyzable(path, "file is nested too deeply to analyze, not analyzed")]
    except Exception as error:  # a bug in a rule must not stop the run
        _reraise_interrupt(error)
        where = traceback.extract_tb(error.__traceback__)[-1]
        diagnostics = [
            unanalyzable(
                path,
                f"internal error while analyzing this file ({type(error).__name__}: {error} "
                f"at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}); please report it",
            )
        ]
    file_level = file_suppression(text)
    return _finish(diagnostics, text, codes, file_level, suppress)


def _finish(
    diagnostics: List[Diagnostic],
    text: str,
    codes: Iterable[str],
    file_level: FileSuppression,
    suppress: bool,
) -> List[Diagnostic]:
    enabled = set(codes)
    diagnostics = [d for d in diagnostics if d.code in enabled]
    if suppress:
        diagnostics = apply_suppressions(diagnostics, text, file_level)
    return sort_diagnostics(diagnostics)
