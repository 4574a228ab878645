"""A cheap bound on how deeply a source text nests, checked before libcst parses it.

libcst's native parser recurses on the C stack for every level of nesting: a few thousand
levels (brackets, `a and b and ...`, `lambda: lambda: ...`, long `elif` chains) overflow
it and kill the interpreter with a segmentation fault that no ``except`` can catch, and
its time grows much faster than linearly well before that (a chain of 3,000 `+` takes
tens of seconds). One regular-expression pass, about a tenth of the time of the parse,
finds such files first so that they become a KC900 finding instead of a crash or a hang.

The estimate counts, at every point of the text, the open brackets plus the operators,
trailers (`.`, calls, subscripts), keywords and adjacent string literals that chain
since the last comma or statement start at each bracket level, plus the lengths of the
`elif` chains the point is in. It over-counts rather than under-counts (a comparison
chain is flat in libcst but counted), which is harmless: real code stays far below the
limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

# CPython's tokenizer refuses more than 200 nested brackets: deeper is invalid Python.
MAX_BRACKET_DEPTH = 200
# Far above real code (Keras's own deepest file scores 23), and where libcst's worst
# construct (a chain of subscripts) takes about a second.
MAX_DEPTH = 500

_TOKENS = re.compile(
    r"""
      (?P<string>(?:\b[rRbBuUfFtT]{1,2})?(?:
            '''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)
          | \"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\"|\Z)
          | '(?:[^'\\\n]|\\.)*'?
          | "(?:[^"\\\n]|\\.)*"?))
    | (?P<comment>\#[^\r\n]*)
    | (?P<continuation>\\\r?\n)
    | (?P<newline>\r?\n|\r)
        (?:(?P<indent>[ \t]*)(?=[^ \t\r\n\#])(?P<elif>elif\b|else\b|except\b|finally\b)?)?
    | (?P<open>[(\[{])
    | (?P<close>[)\]}])
    | (?P<separator>[,;])
    | (?P<operator>\*\*|//|<<|>>|[-+*/%@&|^~<>]|\.(?![0-9])
        |\b(?:and|or|not|if|else|lambda|await|for|in|is)\b)
    """,
    re.VERBOSE | re.DOTALL,
)
_FORMAT_PREFIX = re.compile(r"[fFtT]")

_TOO_MANY_BRACKETS = (
    f"file is nested too deeply to parse, not analyzed: more than {MAX_BRACKET_DEPTH} "
    "levels of brackets, which Python itself refuses"
)
_TOO_DEEP = (
    "file is nested too deeply to parse, not analyzed: an expression or `elif` chain "
    f"more than {MAX_DEPTH} levels deep (generated code?)"
)


@dataclass(frozen=True)
class ExcessNesting:
    message: str
    row: int
    column: int


class _Depth:
    """The running estimate; ``chains`` counts what chains at each open bracket level."""

    def __init__(self) -> None:
        self.chains: List[int] = [0]
        self.total = 0  # len(chains) - 1 + sum(chains) + sum of elif chain lengths
        # (indentation, elif chain length) of each open block, outermost first.
        self.blocks: List[Tuple[int, int]] = [(0, 0)]
        self.previous_was_string = False

    def feed(self, match: re.Match) -> Tuple[int, int]:
        """Account for one token; the bracket depth and the total estimate inside it."""
        kind = match.lastgroup
        if kind == "string":
            literal = match.group()
            inner = _format_depth(literal) if _FORMAT_PREFIX.match(literal) else 0
            if self.previous_was_string:
                self.chain()  # implicit concatenation nests in libcst too
            self.previous_was_string = True
            return len(self.chains) - 1 + inner, self.total + inner
        self.previous_was_string = False
        if kind == "operator":
            self.chain()
        elif kind == "open":
            self.open()
        elif kind == "close":
            self.close()
        elif kind == "separator" or (kind == "newline" and len(self.chains) == 1):
            self.separate()
        elif (kind == "indent" or kind == "elif") and len(self.chains) == 1:
            self.statement(len(match.group("indent")), match.group("elif"))
        return len(self.chains) - 1, self.total

    def chain(self) -> None:
        self.chains[-1] += 1
        self.total += 1

    def open(self) -> None:
        self.chains.append(0)
        self.total += 1

    def close(self) -> None:
        if len(self.chains) > 1:
            self.total -= self.chains.pop() + 1
        self.chain()  # `f(x)(y)`, `a[0].b`: what follows a bracket chains on it

    def separate(self) -> None:
        self.total -= self.chains[-1]
        self.chains[-1] = 0

    def statement(self, indent: int, keyword: Optional[str]) -> None:
        """A new logical line at ``indent`` (its first keyword if it continues a block)."""
        self.separate()
        while len(self.blocks) > 1 and self.blocks[-1][0] > indent:
            self.total -= self.blocks.pop()[1]
        column, elifs = self.blocks[-1]
        if column < indent:
            self.blocks.append((indent, 0))
        elif keyword == "elif":  # libcst nests each `elif` inside the previous `if`
            self.blocks[-1] = (column, elifs + 1)
            self.total += 1
        elif keyword is None:
            self.blocks[-1] = (column, 0)
            self.total -= elifs


def find_excess_nesting(text: str) -> Optional[ExcessNesting]:
    """Where ``text`` first nests too deeply to be parsed safely, if it does."""
    if len(text) <= MAX_BRACKET_DEPTH:
        return None
    depth = _Depth()
    for match in _TOKENS.finditer(text):
        brackets, total = depth.feed(match)
        if brackets > MAX_BRACKET_DEPTH:
            return _excess(text, match.start(), _TOO_MANY_BRACKETS)
        if total > MAX_DEPTH:
            return _excess(text, match.start(), _TOO_DEEP)
    return None


def _format_depth(literal: str) -> int:
    """The deepest `{` nesting inside an f-string (libcst parses the fields as code)."""
    deepest = level = 0
    for brace in re.findall(r"\{\{|\}\}|[{}]", literal):
        if brace == "{":
            level += 1
            deepest = max(deepest, level)
        elif brace == "}":
            level = max(level - 1, 0)
    return deepest


def _excess(text: str, offset: int, message: str) -> ExcessNesting:
    line_start = text.rfind("\n", 0, offset) + 1
    return ExcessNesting(message, text.count("\n", 0, offset) + 1, offset - line_start)
