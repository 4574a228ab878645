"""Turning fixes into new source text: apply non-overlapping edits, repeat to a fixpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Sequence, Tuple

from .diagnostics import Applicability, Diagnostic, Edit, Fix, Position


def _offsets(text: str) -> List[int]:
    """Start offset of every row (1-based rows map to index row-1). Only "\\n" ends a row,
    as in libcst positions; a "\\r" before it stays part of the row's text."""
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _offset(starts: List[int], text: str, position: Position) -> int:
    if position.row - 1 >= len(starts):
        return len(text)
    return min(starts[position.row - 1] + position.column, len(text))


def apply_edits(text: str, edits: Iterable[Edit], newline: str = "\n") -> str:
    """Apply edits (positions refer to ``text``); inserted "\\n" become ``newline``."""
    starts = _offsets(text)
    spans = sorted(
        ((_offset(starts, text, e.start), _offset(starts, text, e.end), e.content) for e in edits),
        key=lambda s: (s[0], s[1]),
    )
    out: List[str] = []
    cursor = 0
    for start, end, content in spans:
        if start < cursor:
            raise ValueError("overlapping edits")
        out.append(text[cursor:start])
        # Code a fix copies from the file may already end its lines with "\r\n".
        out.append(content.replace("\r\n", "\n").replace("\n", newline) if newline != "\n" else content)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def fix_is_wanted(fix: Fix, unsafe: bool) -> bool:
    return fix.applicability is Applicability.SAFE or unsafe


def select_non_overlapping(fixes: Sequence[Fix], text: str) -> List[Fix]:
    """Fixes whose edits overlap no earlier chosen fix (in the given order)."""
    starts = _offsets(text)
    taken: List[Tuple[int, int]] = []
    chosen: List[Fix] = []
    for fix in fixes:
        spans = [(_offset(starts, text, e.start), _offset(starts, text, e.end)) for e in fix.edits]
        if any(s < te and ts < e or (s == e == ts == te) for s, e in spans for ts, te in taken):
            continue
        taken.extend(spans)
        chosen.append(fix)
    return chosen


MAX_FIX_ROUNDS = 10

Linter = Callable[[str], List[Diagnostic]]


@dataclass
class FixOutcome:
    text: str
    fixed: List[Diagnostic]
    remaining: List[Diagnostic]
    # Fixes dropped because the code they produced did not parse (a bug in a rule's fix).
    rejected: List[Diagnostic] = field(default_factory=list)


def _parses(text: str) -> bool:
    import libcst  # only once there is a fix to check: a run without fixes never loads it

    try:
        libcst.parse_module(text)
    except Exception:
        return False
    return True


def fix_python_text(
    text: str,
    lint: Linter,
    *,
    unsafe: bool = False,
    newline: str = "\n",
    validate: Callable[[str], bool] = _parses,
) -> FixOutcome:
    """Apply non-overlapping fixes, re-lint, repeat until nothing changes (bounded, like
    ruff). A round whose result does not parse is undone and its fixes reported as
    rejected. ``remaining`` are the findings of the final text."""
    fixed: List[Diagnostic] = []
    rejected: List[Diagnostic] = []
    diagnostics = lint(text)
    for _ in range(MAX_FIX_ROUNDS):
        # After a rejected round the text is unchanged, so positions identify the findings.
        refused = {(r.code, r.start) for r in rejected}
        fixable = [
            d
            for d in diagnostics
            if d.fix and fix_is_wanted(d.fix, unsafe) and (d.code, d.start) not in refused
        ]
        if not fixable:
            break
        chosen = select_non_overlapping([d.fix for d in fixable if d.fix], text)
        chosen_ids = {id(f) for f in chosen}
        applied = [d for d in fixable if id(d.fix) in chosen_ids]
        new_text = apply_edits(text, [e for f in chosen for e in f.edits], newline)
        if new_text == text:
            break
        if not validate(new_text):
            rejected.extend(applied)
            continue
        fixed.extend(applied)
        text = new_text
        diagnostics = lint(text)
    return FixOutcome(text, fixed, diagnostics, rejected)


def fix_text(
    text: str, lint: Linter, *, unsafe: bool = False, newline: str = "\n"
) -> Tuple[str, List[Diagnostic]]:
    """The fixed text and the findings that were fixed (see :func:`fix_python_text`)."""
    outcome = fix_python_text(text, lint, unsafe=unsafe, newline=newline)
    return outcome.text, outcome.fixed
