"""Real texts for tests that compare two ways of computing the same thing."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterator, Tuple

from kerascheck.diagnostics import UNANALYZABLE_CODE
from kerascheck.registry import all_rules

ROOT = Path(__file__).parent.parent


def project_sources() -> Iterator[Tuple[str, str]]:
    """(name, text) of the fixtures, the examples and every analysis rule's INVALID
    snippets (KC900's do not parse)."""
    for folder in ("tests/fixtures", "examples"):
        for path in sorted((ROOT / folder).glob("*.py")):
            yield path.name, path.read_text(encoding="utf-8")
    for rule in all_rules():
        if rule.code == UNANALYZABLE_CODE:
            continue
        for index, case in enumerate(rule.INVALID):
            yield f"{rule.code}-invalid-{index}", textwrap.dedent(case.code)
