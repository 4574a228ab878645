"""What a run loads: a file no trigger matches (or a result from the cache) is checked
without importing libcst or the rules, which cost a third of a second before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kerascheck.catalog import catalog
from kerascheck.registry import all_rules

HEAVY = ("libcst", "kerascheck.rules", "kerascheck.engine.analysis", "rich")


def modules_loaded_by_check(tmp_path: Path, *args: str) -> set:
    code = (
        "import sys\n"
        "from kerascheck.cli import main\n"
        "try:\n"
        f"    main({['check', *args]!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return set(result.stderr.split())


def test_a_file_no_trigger_matches_is_checked_without_loading_libcst(tmp_path: Path):
    (tmp_path / "plain.py").write_text("import os\nprint(os.sep)\n", encoding="utf-8")
    assert modules_loaded_by_check(tmp_path, "--no-cache", "--output-format", "concise", "plain.py") == set()


def test_a_file_worth_parsing_loads_the_rules(tmp_path: Path):
    """The check above can fail: the same run on a file with a finding loads them."""
    (tmp_path / "flagged.py").write_text(
        "import keras\nopt = keras.optimizers.Adam(lr=0.1)\n", encoding="utf-8"
    )
    loaded = modules_loaded_by_check(tmp_path, "--no-cache", "--output-format", "concise", "flagged.py")
    assert {"libcst", "kerascheck.rules", "kerascheck.engine.analysis"} <= loaded


def test_cached_results_are_read_without_loading_libcst(tmp_path: Path):
    (tmp_path / "flagged.py").write_text(
        "import keras\nopt = keras.optimizers.Adam(lr=0.1)\n", encoding="utf-8"
    )
    modules_loaded_by_check(tmp_path, "--output-format", "concise", "flagged.py")  # fills the cache
    assert modules_loaded_by_check(tmp_path, "--output-format", "concise", "flagged.py") == set()


def test_the_catalog_is_what_the_rules_declare():
    declared = [
        (rule.code, rule.name, tuple(p.pattern for p in rule.trigger.patterns), rule.trigger.flags)
        for rule in all_rules()
    ]
    listed = [
        (e.code, e.name, tuple(p.pattern for p in e.trigger.patterns), e.trigger.flags) for e in catalog()
    ]
    assert listed == declared, "run `python -m kerascheck.docgen` to regenerate kerascheck/_catalog.py"
