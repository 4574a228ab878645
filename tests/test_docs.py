"""Documentation generated from the registry must match what is committed."""

from __future__ import annotations

from pathlib import Path

from kerascheck import docgen
from kerascheck.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent


def test_rule_pages_and_readme_table_are_up_to_date():
    stale = docgen.stale(ROOT)
    assert stale == [], f"run `python -m kerascheck.docgen` to regenerate: {stale}"


def test_every_rule_has_a_page_and_a_table_row():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for rule in all_rules():
        assert (ROOT / "docs" / "rules" / f"{rule.code}.md").is_file()
        assert f"[{rule.code}](docs/rules/{rule.code}.md)" in readme


def test_readme_set_up_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2 -q' in readme
    assert 'python3 -m pip install --quiet -e ".[test]"' in ci
    assert "\npython3 -m pytest -n 2 -q\n" in ci
