"""The test suite generated from every rule's own VALID/INVALID snippets (Fixit style)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from kerascheck.engine.lint import lint_text
from kerascheck.fixes import fix_text
from kerascheck.registry import DOC_SECTIONS, Invalid, Valid, all_rules


def _cases(kind):
    for rule in all_rules():
        for index, case in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, case, id=f"{rule.code}-{kind.lower()}-{index}")


def _lint(rule, code):
    return [d for d in lint_text(code, "snippet.py", (rule.code,)) if d.code == rule.code]


@pytest.mark.parametrize("rule,case", list(_cases("VALID")))
def test_valid_snippet_is_silent(rule, case: Valid):
    found = _lint(rule, textwrap.dedent(case.code))
    assert found == [], "\n".join(f"{d.start.row}: {d.message}" for d in found)


@pytest.mark.parametrize("rule,case", list(_cases("INVALID")))
def test_invalid_snippet_reports(rule, case: Invalid):
    code = textwrap.dedent(case.code)
    found = _lint(rule, code)
    assert len(found) == case.count, [f"{d.start.row}: {d.message}" for d in found]
    first = found[0]
    if case.line is not None:
        assert first.start.row == case.line
    if case.message is not None:
        assert case.message in first.message


@pytest.mark.parametrize(
    "rule,case", [p for p in _cases("INVALID") if p.values[1].expected_fix is not None]
)
def test_fix_gives_expected_code_and_is_stable(rule, case: Invalid):
    code = textwrap.dedent(case.code)
    fixed, applied = fix_text(code, lambda text: _lint(rule, text), unsafe=True)
    assert applied, "the rule offered no fix"
    assert fixed == textwrap.dedent(case.expected_fix)
    cst.parse_module(fixed)  # the fixed code parses
    again, applied_again = fix_text(fixed, lambda text: _lint(rule, text), unsafe=True)
    assert again == fixed and applied_again == []


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_is_documented_and_has_cases(rule):
    sections = rule.doc_sections()
    missing = [s for s in DOC_SECTIONS if not sections.get(s)]
    assert not missing, f"{rule.code} lacks documentation sections {missing}"
    assert len(rule.VALID) >= 2 and len(rule.INVALID) >= 2
    assert rule.summary and rule.name and rule.code.startswith("KC")
