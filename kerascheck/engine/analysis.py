"""Parsing and analysing one source text with libcst: one parse, one batched traversal.

Imported only when a file is going to be parsed (``lint.lint_text`` decides from the
text first), because importing libcst and the rules is a cost of its own.
"""

from __future__ import annotations

import ast
import sys
import traceback
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple, Type

import libcst as cst

from ..context import FileContext
from ..diagnostics import Diagnostic
from ..positions import Positions
from ..registry import Rule, rules_for
from ..semantics import walk
from .incremental import IncrementalParser
from .lint import finish, unanalyzable
from .nesting import find_excess_nesting
from .sources import SourceError

# libcst's parser and visitors recurse once per nesting level; deeply nested (often
# generated) code needs more than Python's default 1000 frames. Beyond this the file
# is reported as KC900 rather than risking the interpreter's C stack.
RECURSION_LIMIT = 12_000
# Parsing and analysing take tens of seconds per million characters of Keras code; real
# training code stays far below this, larger texts are generated code or data.
MAX_SOURCE_CHARS = 1_000_000


@lru_cache(maxsize=64)
def _rules(codes: Tuple[str, ...]) -> Tuple[Type[Rule], ...]:
    return tuple(rules_for(codes))


def parse(text: str, incremental: Optional[IncrementalParser] = None) -> cst.Module:
    """libcst's parse (through ``incremental`` when given, which reuses the unchanged
    statements of the text it parsed before), refusing first (SourceError) what would
    stall it or crash the interpreter: huge texts, and nesting that overflows its native
    stack."""
    if len(text) > MAX_SOURCE_CHARS:
        raise SourceError(
            f"file has {len(text) / 1e6:.1f} million characters of code, over the limit of "
            f"{MAX_SOURCE_CHARS / 1e6:g} million: not analyzed"
        )
    limit = sys.getrecursionlimit()
    if limit < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    if incremental is not None:
        # Only the statements that changed are measured: nesting never spans two
        # top-level statements, and the unchanged ones passed before.
        return incremental.parse(text, vet=_refuse_excess_nesting)
    _refuse_excess_nesting(text)
    return cst.parse_module(text)


def _refuse_excess_nesting(text: str) -> None:
    excess = find_excess_nesting(text)
    if excess is not None:
        raise SourceError(excess.message, excess.row, excess.column)


def parse_and_lint(
    text: str,
    path: str,
    codes: Tuple[str, ...],
    running: Tuple[str, ...],
    *,
    suppress: bool,
    incremental: Optional[IncrementalParser] = None,
) -> List[Diagnostic]:
    """Every finding of the selected rules (``codes``) in ``text``, of which the rules in
    ``running`` (whose triggers it matches) are run."""
    try:
        module = parse(text, incremental)
    except SourceError as error:  # too large or nested too deeply to parse safely
        found = unanalyzable(path, error.message, error.row, error.column)
        return finish([found], text, codes, suppress)
    except cst.ParserSyntaxError as error:
        return finish([_syntax_error(path, text, error)], text, codes, suppress)
    except RecursionError:
        return finish(
            [unanalyzable(path, "file is nested too deeply to parse, not analyzed")], text, codes, suppress
        )
    except Exception as error:  # libcst raises a few other types on odd input
        _reraise_interrupt(error)
        return finish(
            [unanalyzable(path, f"file could not be parsed ({type(error).__name__}: {error})")],
            text,
            codes,
            suppress,
        )
    positions = incremental.positions_for(module) if incremental is not None else None
    return lint_module(module, text, path, codes, running, suppress=suppress, positions=positions)


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
    running: Sequence[str],
    *,
    suppress: bool = True,
    positions: Optional[Positions] = None,
) -> List[Diagnostic]:
    rules = _rules(tuple(running))
    context = FileContext(path, text, module, positions)
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
    return finish(diagnostics, text, codes, suppress)
