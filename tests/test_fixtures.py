"""Realistic multi-case fixture files with the expectation on the flagged line itself
(``# error: KC002`` or ``# error: KC004, KC005``), flake8-bugbear style: every finding
must be expected and every expectation found."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kerascheck.engine.lint import lint_text
from kerascheck.registry import resolve_selection

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*error:\s*(?P<codes>KC\d{3}(?:\s*,\s*KC\d{3})*)")


def expected_findings(text: str):
    expected = set()
    for row, line in enumerate(text.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected.add((row, code))
    return expected


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*.py")), ids=lambda p: p.name
)
def test_fixture(path: Path):
    text = path.read_text(encoding="utf-8")
    found = {
        (d.start.row, d.code)
        for d in lint_text(text, str(path), resolve_selection())
    }
    expected = expected_findings(text)
    assert sorted(found - expected) == [], "unexpected findings (row, code)"
    assert sorted(expected - found) == [], "expected findings not reported (row, code)"
