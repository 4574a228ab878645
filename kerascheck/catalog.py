"""What rules exist (codes, names, triggers) and rule selection, without importing them.

The rules are libcst visitors: importing them imports libcst, a third of a second before
any work starts. Most files of a project contain no Keras pitfall a trigger could match,
and a run whose files no trigger matches (or whose results all come from the cache)
needs neither. So the engine decides from this catalog, generated from the rules
themselves by ``python -m kerascheck.docgen`` into ``_catalog.py`` (a test fails when it
is out of date), and imports the rules only for a file it is going to parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, List, Optional, Pattern, Tuple

from ._catalog import RULES
from .diagnostics import UNANALYZABLE_CODE

DOCS_URL = "https://github.com/kerascheck/kerascheck/blob/main/docs/rules/{code}.md"


class Trigger:
    """Text that every file a rule can report on contains: all of ``patterns`` (regular
    expressions) occur in it. A file no selected rule's trigger matches is never parsed.

    Each pattern is searched on its own: a pattern that starts with literal text is found
    at the speed of a substring search, which one regular expression combining
    several conditions (lookaheads) is not.
    """

    def __init__(self, *patterns: str, flags: int = 0) -> None:
        if not patterns:
            raise ValueError("a trigger needs at least one pattern")
        self.flags = flags
        self.patterns: Tuple[Pattern[str], ...] = tuple(re.compile(p, flags) for p in patterns)

    def matches(self, text: str) -> bool:
        return all(p.search(text) is not None for p in self.patterns)

    def __repr__(self) -> str:
        flags = f", flags={self.flags}" if self.flags else ""
        return f"Trigger({', '.join(repr(p.pattern) for p in self.patterns)}{flags})"


# For trigger patterns: what may sit between two tokens inside brackets (whitespace, a
# comment, a line continuation).
GAP = r"(?:\s|#[^\r\n]*[\r\n]|\\)"


@dataclass(frozen=True)
class RuleEntry:
    code: str
    name: str
    trigger: Trigger


@lru_cache(maxsize=1)
def catalog() -> Tuple[RuleEntry, ...]:
    """Every rule, sorted by code."""
    return tuple(
        RuleEntry(code, name, Trigger(*patterns, flags=flags))
        for code, name, patterns, flags in sorted(RULES)
    )


# --------------------------------------------------------------------------------------
# Triggers of a selection


@lru_cache(maxsize=64)
def _deciding(codes: Tuple[str, ...]) -> Tuple[RuleEntry, ...]:
    selected = [e for e in catalog() if e.code in codes]
    # KC900 is a by-product of parsing, not a reason to parse: a file no analysis rule
    # could match is skipped unparsed (unless KC900 is all that is selected).
    return tuple(e for e in selected if e.code != UNANALYZABLE_CODE) or tuple(selected)


def rules_to_run(text: str, codes: Iterable[str]) -> Tuple[str, ...]:
    """The selected rules whose trigger occurs in ``text``, with KC900 (selected) when
    there is any: a rule whose trigger is absent cannot report, so it need not run, and
    when none is left the file need not even be parsed."""
    codes = tuple(codes)
    running = [e.code for e in _deciding(codes) if e.trigger.matches(text)]
    if running and UNANALYZABLE_CODE in codes and UNANALYZABLE_CODE not in running:
        running.append(UNANALYZABLE_CODE)
    return tuple(sorted(running))


# --------------------------------------------------------------------------------------
# Selection


class SelectionError(ValueError):
    """An unknown code, prefix or name in a selection."""


def _expand(selector: str) -> List[str]:
    """Codes matched by one selector: ``ALL``, a code, a code prefix, or a rule name."""
    key = selector.strip()
    if not key:
        return []
    codes = [e.code for e in catalog()]
    if key.upper() == "ALL":
        return codes
    upper = key.upper()
    if upper.startswith("KC"):
        matched = [c for c in codes if c.startswith(upper)]
        if matched:
            return matched
    names = {e.name: e.code for e in catalog()}
    if key.lower() in names:
        return [names[key.lower()]]
    raise SelectionError(f"unknown rule code, prefix or name: {selector!r}")


def validate_selectors(selectors: Iterable[str]) -> None:
    for s in selectors:
        _expand(s)


def resolve_selection(
    select: Optional[Iterable[str]] = None,
    ignore: Iterable[str] = (),
    extend_select: Iterable[str] = (),
) -> Tuple[str, ...]:
    """The enabled codes, sorted. The default selection is every rule."""
    enabled = set()
    for s in (["ALL"] if select is None else list(select)) + list(extend_select):
        enabled.update(_expand(s))
    for s in ignore:
        enabled.difference_update(_expand(s))
    return tuple(sorted(enabled))
