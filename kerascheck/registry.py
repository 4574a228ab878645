"""The rule base class, the registry, and rule selection.

A rule is one class in one module under ``kerascheck/rules/``, decorated with
:func:`register`. It is a libcst visitor (batched: all selected rules share one traversal
of the tree), reports with :meth:`Rule.report`, and carries its own documentation (its
docstring, in the ruff section layout) and VALID/INVALID snippets (Fixit style) from which
the test suite is generated. Nothing else in the code base names a rule.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    ClassVar,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

import libcst as cst

from .catalog import (  # noqa: F401  (selection and triggers live in the catalog)
    DOCS_URL,
    GAP,
    SelectionError,
    Trigger,
    resolve_selection,
    validate_selectors,
)
from .diagnostics import Applicability, Severity

if TYPE_CHECKING:  # pragma: no cover
    from .context import FileContext

DOC_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Known limits",
)

# --------------------------------------------------------------------------------------
# Triggers: which files are worth parsing for a rule



# A ``Dense`` layer given one unit, the only layer whose units the heads analysis reads, as
# an integer literal (``1``, ``+1``, ``(1)``, ``0x1``) passed first or as ``units=`` (which
# may follow other arguments, so it is looked for on its own). The call is ``Dense(1``
# unless ``Dense`` is called under an alias: ``Dense as D``, or a statement ending in it
# (``D = keras.layers.Dense``; an import of the bare name is no alias). The pattern starts
# from the letter ``Dense`` and ``units`` share: one starting character is scanned for
# fast, while alternatives without a common start are tried at every position of the text.
_LITERAL_ONE = rf"(?:{GAP}|[(+])*(?:0[xXoObB][0_]*)?1(?![\w.])"
ONE_UNIT = (
    rf"n(?:(?<=\bDen)se(?:(?:{GAP}|\))*\({_LITERAL_ONE}|{GAP}+as\b"
    r"|(?<!import Dense)(?<!,Dense)(?<!, Dense)(?=[^\S\r\n]*(?:[\r\n;#)\\]|\Z)))"
    rf"|(?<=\bun)its{GAP}*={_LITERAL_ONE})"
)


# --------------------------------------------------------------------------------------
# Test cases carried by rules


@dataclass(frozen=True)
class Valid:
    """Code on which the rule must stay silent."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """Code on which the rule must report.

    ``line`` (1-based, within the dedented snippet) pins where the first finding is;
    ``count`` is how many findings of this rule the snippet gives; ``message`` must be
    a substring of the first finding's message; ``expected_fix`` is the snippet after
    applying every fix of this rule (unsafe ones included) until nothing changes.
    """

    code: str
    line: Optional[int] = None
    count: int = 1
    message: Optional[str] = None
    expected_fix: Optional[str] = None


# --------------------------------------------------------------------------------------
# Fix specifications. Rules describe a change in terms of nodes; the engine turns them
# into text edits once positions are known (positions are computed only for files that
# have something to report).


@dataclass(frozen=True)
class Replace:
    """Replace ``node`` with ``new`` (a node, rendered with the module's defaults, or text)."""

    node: cst.CSTNode
    new: Union[cst.CSTNode, str]


@dataclass(frozen=True)
class InsertStatementAfter:
    """Insert ``code`` (one or more lines, unindented) after the statement ``node``,
    at the same indentation as that statement."""

    node: cst.CSTNode
    code: str


@dataclass(frozen=True)
class InsertAtTop:
    """Insert ``code`` (whole lines) after the module's docstring, ``__future__`` imports
    and leading import block: the place a new import goes."""

    code: str


FixChange = Union[Replace, InsertStatementAfter, InsertAtTop]


@dataclass(frozen=True)
class FixSpec:
    message: str
    changes: Tuple[FixChange, ...]
    applicability: Applicability = Applicability.SAFE

    @classmethod
    def safe(cls, message: str, *changes: FixChange) -> "FixSpec":
        return cls(message, tuple(changes), Applicability.SAFE)

    @classmethod
    def unsafe(cls, message: str, *changes: FixChange) -> "FixSpec":
        return cls(message, tuple(changes), Applicability.UNSAFE)


@dataclass
class Report:
    """A finding as a rule produced it, before positions are resolved."""

    rule: "Type[Rule]"
    node: cst.CSTNode
    message: str
    help: Optional[str] = None
    fix: Optional[FixSpec] = None


# --------------------------------------------------------------------------------------
# The rule base class


class Rule(cst.BatchableCSTVisitor):
    """Base class of every rule.

    Subclasses set the class attributes below, write the documentation as the class
    docstring (sections in :data:`DOC_SECTIONS`, each a ``## `` heading), and implement
    ``visit_*``/``leave_*`` methods that call :meth:`report`. Shared facts (import
    resolution, models, ranks, ...) come from ``self.context.semantics``.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    # A file is parsed only if at least one selected rule's trigger matches its text.
    trigger: ClassVar[Trigger]
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    def __init__(self, context: "FileContext") -> None:
        super().__init__()
        self.context = context

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        help: Optional[str] = None,
        fix: Optional[FixSpec] = None,
    ) -> None:
        self.context.add_report(Report(type(self), node, message, help, fix))

    # ---- documentation -------------------------------------------------------------

    @classmethod
    def documentation(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip() + "\n"

    @classmethod
    def doc_sections(cls) -> Dict[str, str]:
        sections: Dict[str, str] = {}
        current: Optional[str] = None
        lines: List[str] = []
        for line in cls.documentation().splitlines():
            if line.startswith("## "):
                if current is not None:
                    sections[current] = "\n".join(lines).strip()
                current, lines = line[3:].strip(), []
            elif current is not None:
                lines.append(line)
        if current is not None:
            sections[current] = "\n".join(lines).strip()
        return sections

    @classmethod
    def url(cls) -> str:
        return DOCS_URL.format(code=cls.code)


# --------------------------------------------------------------------------------------
# The registry

_RULES: Dict[str, Type[Rule]] = {}
_CODE_RE = re.compile(r"^KC\d{3}$")


def register(rule: Type[Rule]) -> Type[Rule]:
    """Class decorator: add a rule to the registry (codes and names are unique)."""
    if not _CODE_RE.match(rule.code):
        raise ValueError(f"rule code {rule.code!r} is not of the form KC123")
    for other in _RULES.values():
        if other.code == rule.code and other is not rule:
            raise ValueError(f"rule code {rule.code} registered twice")
        if other.name == rule.name and other is not rule:
            raise ValueError(f"rule name {rule.name} registered twice")
    _RULES[rule.code] = rule
    return rule


def all_rules() -> List[Type[Rule]]:
    from . import rules  # noqa: F401  (importing the package registers every rule)

    return [_RULES[code] for code in sorted(_RULES)]


def get_rule(code_or_name: str) -> Optional[Type[Rule]]:
    key = code_or_name.strip()
    for rule in all_rules():
        if rule.code == key.upper() or rule.name == key.lower():
            return rule
    return None


def rules_for(codes: Iterable[str]) -> List[Type[Rule]]:
    wanted = set(codes)
    return [r for r in all_rules() if r.code in wanted]
