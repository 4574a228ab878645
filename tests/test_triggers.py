"""Triggers are sound: a rule's trigger matches every text the rule reports on.

A trigger decides, from the text alone, whether a file is worth parsing for a rule; one
tighter than the analysis would silently lose findings. Each text below is linted with
the triggers switched off, and every rule that then reports must have a trigger that
matches the text. The texts are every rule's own snippets (each rule's snippets are also
run through every other rule), the fixtures, the examples, and random Keras programs,
each also with CRLF and CR line endings (a pattern anchored at ``$`` misses ``\r\n``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kerascheck.diagnostics import UNANALYZABLE_CODE
from kerascheck.engine import lint
from kerascheck.registry import all_rules, get_rule

from .every_trigger import EVERY_TRIGGER
from .test_properties import bounded, keras_programs

ROOT = Path(__file__).parent.parent
CODES = tuple(rule.code for rule in all_rules())


def _texts() -> Iterator[Tuple[str, str]]:
    for rule in all_rules():
        for kind in ("VALID", "INVALID"):
            for index, case in enumerate(getattr(rule, kind)):
                yield f"{rule.code}-{kind.lower()}-{index}", textwrap.dedent(case.code)
                if getattr(case, "expected_fix", None):
                    yield f"{rule.code}-{kind.lower()}-{index}-fixed", textwrap.dedent(case.expected_fix)
    for folder in ("tests/fixtures", "examples"):
        for path in sorted((ROOT / folder).glob("*.py")):
            yield f"{folder}/{path.name}", path.read_text(encoding="utf-8")


def reports_without_triggers(text: str, monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """The codes the analysis reports when every file is parsed, whatever its text."""
    with monkeypatch.context() as patched:
        patched.setattr(lint, "rules_to_run", lambda text, codes: tuple(codes))
        found = lint.lint_text(text, "trigger.py", CODES)
    return sorted({d.code for d in found if d.code != UNANALYZABLE_CODE})


def missed_by_trigger(text: str, monkeypatch: pytest.MonkeyPatch) -> List[str]:
    return [code for code in reports_without_triggers(text, monkeypatch) if not get_rule(code).trigger.matches(text)]


NEWLINES = ["\n", "\r\n", "\r"]


@pytest.mark.parametrize("newline", NEWLINES, ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("name,text", list(_texts()), ids=lambda value: value if len(value) < 60 else "")
def test_trigger_matches_every_text_its_rule_reports_on(name: str, text: str, newline: str, monkeypatch):
    assert missed_by_trigger(text.replace("\n", newline), monkeypatch) == []


@bounded(80)
@given(keras_programs(), st.sampled_from(NEWLINES))
def test_trigger_matches_random_keras_programs(text: str, newline: str):
    text = text.replace("\n", newline)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert missed_by_trigger(text, monkeypatch) == [], text


def test_every_trigger_header_matches_every_rule():
    assert [rule.code for rule in all_rules() if not rule.trigger.matches(EVERY_TRIGGER)] == []
    assert EVERY_TRIGGER.count("\n") == 1  # one line: the tests count rows after it


def test_switching_triggers_off_is_seen(monkeypatch):
    """The check above can fail: a trigger that never matches is caught."""
    seed = (ROOT / "examples" / "seed000_model_alias.py").read_text(encoding="utf-8")
    rule = get_rule("KC001")
    monkeypatch.setattr(rule, "trigger", type(rule.trigger)(r"(?!)"))
    assert missed_by_trigger(seed, monkeypatch) == ["KC001"]
