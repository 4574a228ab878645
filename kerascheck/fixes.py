"""Turning fixes into new source text: apply non-overlapping edits, repeat to a fixpoint."""

from __future__ import annotations

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
        out.append(content.replace("\n", newline) if newline != "\n" else content)
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


def fix_text(
    text: str,
    lint: Callable[[str], List[Diagnostic]],
    *,
    unsafe: bool = False,
    newline: str = "\n",
) -> Tuple[str, List[Diagnostic]]:
    """Apply fixes until nothing changes (bounded, like ruff). Returns the new text and
    the findings that were fixed. ``lint`` must lint a text and return its findings."""
    fixed: List[Diagnostic] = []
    for _ in range(MAX_FIX_ROUNDS):
        diagnostics = [d for d in lint(text) if d.fix and fix_is_wanted(d.fix, unsafe)]
        if not diagnostics:
            break
        chosen = select_non_overlapping([d.fix for d in diagnostics if d.fix], text)
        chosen_ids = {id(f) for f in chosen}
        new_text = apply_edits(text, [e for f in chosen for e in f.edits], newline)
        if new_text == text:
            break
        fixed.extend(d for d in diagnostics if id(d.fix) in chosen_ids)
        text = new_text
    return text, fixed
