"""The result cache and the process pool must never change what is reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import run_cli

FLAGGED = "from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n"
CLEAN = "from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.1)\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for index in range(8):
        (tmp_path / f"m{index}.py").write_text(FLAGGED if index % 2 else CLEAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.kerascheck]\n", encoding="utf-8")
    return tmp_path


def check_json(project: Path, *args: str):
    result = run_cli("check", ".", "--output-format", "json", *args, cwd=project)
    return json.loads(result.stdout)


def cache_entries(project: Path):
    return sorted(p for p in (project / ".kerascheck_cache").rglob("*.json"))


def test_cold_warm_and_job_counts_agree(project: Path):
    cold_one = check_json(project, "--no-cache", "--jobs", "1")
    cold_two = check_json(project, "--no-cache", "--jobs", "2")
    filling = check_json(project, "--jobs", "2")
    warm = check_json(project, "--jobs", "2")
    assert cold_one == cold_two == filling == warm
    assert len(cold_one) == 4
    assert len(cache_entries(project)) == 8


def test_a_changed_file_is_checked_again(project: Path):
    check_json(project)
    target = project / "m0.py"
    target.write_text(FLAGGED, encoding="utf-8")
    # Same size edits within the timestamp granularity are caught by ctime and size;
    # move mtime forward to be sure the test does not depend on the file system.
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    found = check_json(project)
    assert "m0.py" in {item["filename"] for item in found}


def test_a_changed_configuration_invalidates_the_cache(project: Path):
    assert len(check_json(project)) == 4
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC006"]\n', encoding="utf-8")
    assert check_json(project) == []
    (project / "pyproject.toml").write_text("[tool.kerascheck]\n", encoding="utf-8")
    assert len(check_json(project)) == 4


def test_command_line_selection_is_part_of_the_key(project: Path):
    assert len(check_json(project)) == 4
    assert check_json(project, "--ignore", "KC006") == []
    assert len(check_json(project)) == 4


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[1, 2, 3]", b'{"key": 5, "diagnostics": "x"}', b"\x00\xff"])
def test_a_corrupt_cache_entry_is_survived_and_rebuilt(project: Path, damage: bytes):
    expected = check_json(project)
    for entry in cache_entries(project):
        entry.write_bytes(damage)
    assert check_json(project) == expected
    # ...and the entries were rewritten with real content.
    assert all(json.loads(entry.read_text(encoding="utf-8"))["key"] for entry in cache_entries(project))


def test_cached_findings_keep_their_fixes(project: Path):
    cold = check_json(project, "--no-cache")
    check_json(project)
    warm = check_json(project)
    assert [item["fix"] for item in warm] == [item["fix"] for item in cold]
    assert all(item["fix"]["applicability"] == "safe" for item in warm)


def test_a_file_name_that_is_not_utf8_is_cached(tmp_path: Path):
    """The name reaches the cache entry (a lone surrogate holds the byte): it must be
    stored and read back, not fail the run."""
    name = os.fsdecode(b"bad\xff.py")
    try:
        (tmp_path / name).write_text(FLAGGED, encoding="utf-8")
    except OSError:  # file systems that store names as Unicode (macOS, Windows) refuse it
        pytest.skip("this file system only takes UTF-8 file names")
    filling = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert filling.returncode == 1, filling.stderr
    assert len(cache_entries(tmp_path)) == 1
    warm = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert (warm.returncode, warm.stdout) == (filling.returncode, filling.stdout)
    assert "bad\\xff.py:2:" in warm.stdout
