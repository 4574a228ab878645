"""End-to-end tests of every ``check`` option, exit status and configuration error, through
the real command. KC006 (a Keras optimizer given ``lr=``, with a safe fix) is the probe."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Optional

import pytest

from kerascheck import __version__
from kerascheck.registry import all_rules

from .conftest import CliResult, run_cli

FLAGGED = "from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n"
CLEAN = "from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.1)\n"
# An emoji (one code point, two UTF-16 units) before the flagged keyword on the same line.
EMOJI = 'from tensorflow import keras\nlabel = "😀"; opt = keras.optimizers.SGD(lr=0.1)\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(FLAGGED, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    return tmp_path


def concise_lines(stdout: str):
    return [line for line in stdout.splitlines() if line.strip()]


# ---- exit status ----------------------------------------------------------------------


def test_findings_exit_1_and_clean_exit_0(project: Path):
    assert run_cli("check", "train.py", "--output-format", "concise", cwd=project).returncode == 1
    assert run_cli("check", "clean.py", "--output-format", "concise", cwd=project).returncode == 0


def test_exit_zero_turns_findings_into_success(project: Path):
    result = run_cli("check", "train.py", "--exit-zero", "--output-format", "concise", cwd=project)
    assert result.returncode == 0
    assert "KC006" in result.stdout


def test_bad_option_exits_2(project: Path):
    result = run_cli("check", "--no-such-option", cwd=project)
    assert result.returncode == 2


def test_unknown_code_on_command_line_exits_2_naming_it(project: Path):
    result = run_cli("check", "--select", "KC999", cwd=project)
    assert result.returncode == 2
    assert "KC999" in result.stderr


def test_default_path_is_current_folder(project: Path):
    result = run_cli("check", "--output-format", "concise", cwd=project)
    assert concise_lines(result.stdout) == [
        "train.py:2:28: KC006 `SGD(lr=...)`: tf-keras 2.11+ ignores `lr` and trains at the default "
        "learning rate, Keras 3 rejects it; pass `learning_rate=`"
    ]


def test_python_dash_m_and_version(project: Path):
    result = run_cli("--version", cwd=project)
    assert result.returncode == 0 and __version__ in result.stdout


# ---- selection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--select", "KC006"], 1),
        (["--select", "KC00"], 1),
        (["--select", "optimizer-lr-argument"], 1),
        (["--select", "ALL", "--ignore", "KC006"], 0),
        (["--select", "KC900", "--extend-select", "KC006"], 1),
        (["--select", "KC900"], 0),
        (["--ignore", "optimizer-lr-argument"], 0),
    ],
)
def test_selection(project: Path, args, expected):
    result = run_cli("check", "train.py", "--output-format", "concise", *args, cwd=project)
    assert result.returncode == expected, result.stdout + result.stderr


def test_select_accepts_comma_separated_lists(project: Path):
    result = run_cli("check", "train.py", "--select", "KC900,KC006", "--output-format", "concise", cwd=project)
    assert result.returncode == 1


# ---- output formats through the command ----------------------------------------------------


def test_full_output_is_plain_text_with_source_caret_and_summary(project: Path):
    result = run_cli("check", "train.py", cwd=project)
    assert result.returncode == 1
    assert "\x1b[" not in result.stdout  # not a terminal: no colors
    assert "train.py:2:28" in result.stdout
    assert "opt = keras.optimizers.SGD(lr=0.1)" in result.stdout
    assert "^" in result.stdout
    assert "Found 1 problem" in result.stdout and "1 fixable with --fix" in result.stdout


def test_full_output_says_all_clear(project: Path):
    result = run_cli("check", "clean.py", cwd=project)
    assert result.returncode == 0
    assert "All checks passed" in result.stdout


def test_json_output(project: Path):
    result = run_cli("check", "train.py", "--output-format", "json", cwd=project)
    data = json.loads(result.stdout)
    assert len(data) == 1
    item = data[0]
    assert set(item) == {
        "code", "name", "message", "severity", "filename", "location", "end_location", "cell", "fix", "url",
    }
    assert item["code"] == "KC006" and item["filename"] == "train.py" and item["cell"] is None
    assert item["location"] == {"row": 2, "column": 28}
    assert item["fix"]["applicability"] == "safe"
    assert item["fix"]["edits"][0]["content"] == "learning_rate"


def test_json_lines_output(project: Path):
    (project / "more.py").write_text(FLAGGED + FLAGGED.splitlines()[1] + "\n", encoding="utf-8")
    result = run_cli("check", "train.py", "more.py", "--output-format", "json-lines", cwd=project)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["filename"] for line in lines] == ["more.py", "more.py", "train.py"]


def test_github_output(project: Path):
    result = run_cli("check", "train.py", "--output-format", "github", cwd=project)
    assert result.stdout.startswith("::warning title=kerascheck (KC006),file=train.py,line=2,col=28,")


def test_sarif_output_validates_against_the_schema(project: Path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    result = run_cli("check", ".", "--output-format", "sarif", cwd=project)
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, schema)
    run = sarif["runs"][0]
    assert run["results"][0]["ruleId"] == "KC006"
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "train.py"
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {r.code for r in all_rules()}


def test_lsp_output(project: Path):
    result = run_cli("check", "train.py", "--output-format", "lsp", cwd=project)
    data = json.loads(result.stdout)
    assert data[0]["uri"] == (project / "train.py").resolve().as_uri()
    diagnostic = data[0]["diagnostics"][0]
    assert diagnostic["range"]["start"] == {"line": 1, "character": 27}
    assert diagnostic["source"] == "kerascheck" and diagnostic["code"] == "KC006"


def test_emoji_columns_in_every_format(tmp_path: Path):
    (tmp_path / "emoji.py").write_text(EMOJI, encoding="utf-8")
    column = EMOJI.splitlines()[1].index("lr=")  # code points before the keyword
    concise = run_cli("check", "emoji.py", "--output-format", "concise", cwd=tmp_path).stdout
    assert concise.startswith(f"emoji.py:2:{column + 1}: KC006")
    data = json.loads(run_cli("check", "emoji.py", "--output-format", "json", cwd=tmp_path).stdout)
    assert data[0]["location"] == {"row": 2, "column": column + 1}
    github = run_cli("check", "emoji.py", "--output-format", "github", cwd=tmp_path).stdout
    assert f"line=2,col={column + 1}," in github
    lsp = json.loads(run_cli("check", "emoji.py", "--output-format", "lsp", cwd=tmp_path).stdout)
    assert lsp[0]["diagnostics"][0]["range"]["start"] == {"line": 1, "character": column + 1}  # UTF-16
    sarif = json.loads(run_cli("check", "emoji.py", "--output-format", "sarif", cwd=tmp_path).stdout)
    run = sarif["runs"][0]
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert run["columnKind"] == "unicodeCodePoints"  # declared, so consumers need not guess
    assert region["startLine"] == 2 and region["startColumn"] == column + 1
    full = run_cli("check", "emoji.py", cwd=tmp_path).stdout
    assert f"emoji.py:2:{column + 1}" in full


# ---- stdin, statistics, quiet, config ------------------------------------------------------


def test_stdin_with_filename(project: Path):
    result = run_cli(
        "check", "-", "--stdin-filename", "from_stdin.py", "--output-format", "concise",
        cwd=project, stdin=FLAGGED,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("from_stdin.py:2:28: KC006")


def test_stdin_without_filename_is_named_dash(project: Path):
    result = run_cli("check", "-", "--output-format", "concise", cwd=project, stdin=FLAGGED)
    assert result.stdout.startswith("-:2:28: KC006")


def test_stdin_fix_prints_the_fixed_source(project: Path):
    result = run_cli("check", "-", "--fix", cwd=project, stdin=FLAGGED)
    assert result.stdout == CLEAN


def test_statistics(project: Path):
    (project / "more.py").write_text(FLAGGED, encoding="utf-8")
    result = run_cli("check", ".", "--statistics", cwd=project)
    assert result.returncode == 1
    assert result.stdout.split() == ["2", "KC006", "[*]", "optimizer-lr-argument"]


def test_quiet_prints_findings_only(project: Path):
    result = run_cli("check", "train.py", "--quiet", cwd=project)
    assert "KC006" in result.stdout and "Found" not in result.stdout
    assert run_cli("check", "clean.py", "--quiet", cwd=project).stdout == ""


def test_pyproject_configuration_is_found_upward(project: Path):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC006"]\n', encoding="utf-8")
    sub = project / "pkg" / "deep"
    sub.mkdir(parents=True)
    (sub / "model.py").write_text(FLAGGED, encoding="utf-8")
    assert run_cli("check", ".", "--output-format", "concise", cwd=project).returncode == 0
    # The command line overrides the file.
    assert run_cli("check", ".", "--select", "KC006", "--output-format", "concise", cwd=project).returncode == 0
    assert run_cli("check", ".", "--extend-select", "KC006", "--output-format", "concise", cwd=project).returncode == 0


def test_config_option(project: Path, tmp_path_factory):
    other = tmp_path_factory.mktemp("conf") / "kerascheck.toml"
    other.write_text('ignore = ["KC006"]\n', encoding="utf-8")
    result = run_cli("check", "train.py", "--config", str(other), "--output-format", "concise", cwd=project)
    assert result.returncode == 0


@pytest.mark.parametrize(
    "toml,named",
    [
        ('[tool.kerascheck]\nselct = ["KC001"]\n', "selct"),
        ('[tool.kerascheck]\nselect = ["KC777"]\n', "KC777"),
        ('[tool.kerascheck.per-file-ignores]\n"a.py" = ["nonsense-rule"]\n', "nonsense-rule"),
        ('[tool.kerascheck]\nrespect-gitignore = "yes"\n', "respect-gitignore"),
        ("[tool.kerascheck\n", "invalid TOML"),
    ],
)
def test_configuration_errors_exit_2_naming_the_problem(project: Path, toml, named):
    (project / "pyproject.toml").write_text(toml, encoding="utf-8")
    result = run_cli("check", ".", "--output-format", "concise", cwd=project)
    assert result.returncode == 2
    assert named in result.stderr


def test_per_file_ignores(project: Path):
    (project / "pyproject.toml").write_text(
        '[tool.kerascheck.per-file-ignores]\n"train.py" = ["KC006"]\n', encoding="utf-8"
    )
    (project / "other.py").write_text(FLAGGED, encoding="utf-8")
    result = run_cli("check", ".", "--output-format", "concise", cwd=project)
    assert [line.split(":")[0] for line in concise_lines(result.stdout)] == ["other.py"]


# ---- discovery and exclusion ---------------------------------------------------------------


def test_gitignore_default_excludes_and_extend_exclude(project: Path):
    for folder in ("venv", "build", "node_modules", "ignored_by_git", "generated", "src"):
        (project / folder).mkdir()
        (project / folder / "m.py").write_text(FLAGGED, encoding="utf-8")
    (project / ".gitignore").write_text("ignored_by_git/\n", encoding="utf-8")
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nextend-exclude = ["generated"]\n', encoding="utf-8")
    result = run_cli("check", ".", "--output-format", "concise", cwd=project)
    files = sorted({line.split(":")[0] for line in concise_lines(result.stdout)})
    assert files == ["src/m.py", "train.py"]


def test_respect_gitignore_false(project: Path):
    (project / "ignored").mkdir()
    (project / "ignored" / "m.py").write_text(FLAGGED, encoding="utf-8")
    (project / ".gitignore").write_text("ignored/\n", encoding="utf-8")
    (project / "pyproject.toml").write_text("[tool.kerascheck]\nrespect-gitignore = false\n", encoding="utf-8")
    result = run_cli("check", ".", "--output-format", "concise", cwd=project)
    assert "ignored/m.py" in result.stdout


def test_force_exclude_applies_exclude_to_named_files(project: Path):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nextend-exclude = ["train.py"]\n', encoding="utf-8")
    # Named explicitly, an excluded file is still checked...
    assert run_cli("check", "train.py", "--output-format", "concise", cwd=project).returncode == 1
    # ...unless --force-exclude says otherwise (what pre-commit passes).
    assert run_cli("check", "train.py", "--force-exclude", "--output-format", "concise", cwd=project).returncode == 0


def test_missing_path_is_kc900_not_a_crash(project: Path):
    result = run_cli("check", "nope.py", "--output-format", "concise", cwd=project)
    assert result.returncode == 1
    assert result.stdout.startswith("nope.py:1:1: KC900")


# ---- suppression -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "comment,suppressed",
    [
        ("  # noqa", True),
        ("  # noqa: KC006", True),
        ("  # noqa:KC001,KC006", True),
        ("  # NOQA: KC001, KC006", True),
        ("  # noqa: KC001", False),
        ("  # a comment", False),
    ],
)
def test_line_noqa(tmp_path: Path, comment, suppressed):
    (tmp_path / "m.py").write_text(FLAGGED.rstrip("\n") + comment + "\n", encoding="utf-8")
    result = run_cli("check", "m.py", "--output-format", "concise", cwd=tmp_path)
    assert (result.returncode == 0) is suppressed


@pytest.mark.parametrize(
    "header,suppressed",
    [
        ("# kerascheck: noqa\n", True),
        ("# kerascheck: noqa: KC006\n", True),
        ("# kerascheck: noqa: KC003\n", False),
        ('"""# kerascheck: noqa is documented here, not a directive."""\n', False),
    ],
)
def test_file_level_noqa(tmp_path: Path, header, suppressed):
    (tmp_path / "m.py").write_text(header + FLAGGED, encoding="utf-8")
    result = run_cli("check", "m.py", "--output-format", "concise", cwd=tmp_path)
    assert (result.returncode == 0) is suppressed


# ---- cache -----------------------------------------------------------------------------


def test_cache_is_created_and_no_cache_skips_it(project: Path):
    run_cli("check", ".", "--no-cache", "--output-format", "concise", cwd=project)
    assert not (project / ".kerascheck_cache").exists()
    first = run_cli("check", ".", "--output-format", "json", cwd=project)
    cache = project / ".kerascheck_cache"
    assert cache.is_dir() and (cache / ".gitignore").read_text(encoding="utf-8").strip().endswith("*")
    second = run_cli("check", ".", "--output-format", "json", cwd=project)
    assert first.stdout == second.stdout  # cached findings keep their fixes too


# ---- fixes -----------------------------------------------------------------------------


def test_fix_writes_safe_fixes_and_reports_remaining(project: Path):
    result = run_cli("check", "train.py", "--fix", "--output-format", "concise", cwd=project)
    assert result.returncode == 0
    assert (project / "train.py").read_text(encoding="utf-8") == CLEAN
    assert "Fixed 1 problem" in result.stderr


def test_diff_prints_and_writes_nothing(project: Path):
    result = run_cli("check", "train.py", "--diff", cwd=project)
    assert result.returncode == 1
    assert "-opt = keras.optimizers.SGD(lr=0.1)" in result.stdout
    assert "+opt = keras.optimizers.SGD(learning_rate=0.1)" in result.stdout
    assert result.stdout.startswith("--- a/train.py\n+++ b/train.py\n")
    assert (project / "train.py").read_text(encoding="utf-8") == FLAGGED


def test_show_fixes_lists_what_was_fixed(project: Path):
    result = run_cli("check", "train.py", "--fix", "--show-fixes", "--output-format", "concise", cwd=project)
    assert "train.py:" in result.stderr and "1 × KC006 (optimizer-lr-argument)" in result.stderr


def test_show_fixes_on_stdin_reports_on_stderr(project: Path):
    result = run_cli(
        "check", "-", "--stdin-filename", "piped.py", "--fix", "--show-fixes", cwd=project, stdin=FLAGGED
    )
    assert result.stdout == FLAGGED.replace("lr=", "learning_rate=")  # the fixed source only
    assert "piped.py:" in result.stderr and "1 × KC006 (optimizer-lr-argument)" in result.stderr


def test_nothing_is_written_without_fix(project: Path):
    before = {p: p.read_bytes() for p in project.iterdir() if p.is_file()}
    run_cli("check", ".", "--output-format", "concise", "--unsafe-fixes", cwd=project)
    assert {p: p.read_bytes() for p in before} == before


# ---- a file name that is not UTF-8 ------------------------------------------------------

UNDECODABLE_NAME = os.fsdecode(b"bad\xff.py")  # a lone surrogate holds the byte: "bad\udcff.py"
PRINTED_NAME = "bad\\xff.py"  # how kerascheck shows it, as the text output formats do


@pytest.fixture
def undecodable(tmp_path: Path) -> Path:
    """A flagged file whose name is not UTF-8."""
    path = tmp_path / UNDECODABLE_NAME
    try:
        path.write_text(FLAGGED, encoding="utf-8")
    except OSError:  # file systems that store names as Unicode (macOS, Windows) refuse it
        pytest.skip("this file system only takes UTF-8 file names")
    return path


def run_cli_strict_utf8(*args: str, cwd: Path, stdin: Optional[str] = None) -> CliResult:
    """The real command with a strict UTF-8 stdout, as under a UTF-8 locale such as
    en_US.UTF-8, where writing a lone surrogate raises. stderr always falls back to
    ``\\udcff``, which must not appear either: kerascheck shows the byte as ``\\xff``."""
    result = run_cli(*args, cwd=cwd, stdin=stdin, extra_env={"PYTHONIOENCODING": "utf-8"})
    assert "\\udc" not in result.stdout + result.stderr
    return result


@pytest.mark.parametrize("target", [UNDECODABLE_NAME, "."], ids=["named", "in-folder"])
def test_diff_headers_show_an_undecodable_byte_as_an_escape(undecodable: Path, target: str):
    result = run_cli_strict_utf8("check", "--no-cache", "--diff", target, cwd=undecodable.parent)
    assert result.returncode == 1
    assert result.stdout.startswith(f"--- a/{PRINTED_NAME}\n+++ b/{PRINTED_NAME}\n")
    assert "+opt = keras.optimizers.SGD(learning_rate=0.1)" in result.stdout
    assert undecodable.read_text(encoding="utf-8") == FLAGGED


@pytest.mark.parametrize("extra", [[], ["--statistics"]], ids=["findings", "statistics"])
def test_show_fixes_names_an_undecodable_file_with_an_escape(undecodable: Path, extra):
    result = run_cli_strict_utf8(
        "check", "--no-cache", "--fix", "--show-fixes", *extra, ".", cwd=undecodable.parent
    )
    assert result.returncode == 0
    assert undecodable.read_text(encoding="utf-8") == CLEAN
    assert f"{PRINTED_NAME}:\n    1 × KC006 (optimizer-lr-argument)" in result.stderr


def test_stdin_filename_that_is_not_utf8_in_diff_and_fix(tmp_path: Path):
    # POSIX command lines are bytes: the name reaches kerascheck as it reaches a file's.
    named = ("--no-cache", "--stdin-filename", UNDECODABLE_NAME, "-")
    diff = run_cli_strict_utf8("check", "--diff", *named, cwd=tmp_path, stdin=FLAGGED)
    assert diff.returncode == 1
    assert diff.stdout.startswith(f"--- a/{PRINTED_NAME}\n+++ b/{PRINTED_NAME}\n")
    fix = run_cli_strict_utf8("check", "--fix", *named, cwd=tmp_path, stdin=FLAGGED)
    assert (fix.returncode, fix.stdout) == (0, CLEAN)


# ---- other commands ----------------------------------------------------------------------


def test_rule_command_prints_documentation(project: Path):
    result = run_cli("rule", "KC006", cwd=project)
    assert result.returncode == 0
    assert result.stdout.startswith("# KC006 optimizer-lr-argument")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in result.stdout
    assert run_cli("rule", "optimizer-lr-argument", cwd=project).stdout == result.stdout


def test_rule_command_unknown_exits_2(project: Path):
    result = run_cli("rule", "KC999", cwd=project)
    assert result.returncode == 2 and "KC999" in result.stderr


def test_rules_command(project: Path):
    text = run_cli("rules", cwd=project).stdout
    assert [line.split()[0] for line in text.splitlines()] == [r.code for r in all_rules()]
    data = json.loads(run_cli("rules", "--output-format", "json", cwd=project).stdout)
    assert [r["code"] for r in data] == [r.code for r in all_rules()]
    assert {r["fix"] for r in data} <= {"safe", "unsafe", None}


def test_jobs_option_gives_identical_output(project: Path):
    for index in range(6):
        (project / f"m{index}.py").write_text(FLAGGED, encoding="utf-8")
    one = run_cli("check", ".", "--jobs", "1", "--no-cache", "--output-format", "json", cwd=project)
    two = run_cli("check", ".", "--jobs", "2", "--no-cache", "--output-format", "json", cwd=project)
    assert one.stdout == two.stdout and len(json.loads(one.stdout)) == 7


def test_help_lists_every_contract_option(project: Path):
    text = run_cli("check", "--help", cwd=project).stdout
    for option in textwrap.dedent(
        """
        --select --ignore --extend-select --output-format --fix --unsafe-fixes --diff
        --show-fixes --exit-zero --no-cache --stdin-filename --statistics --config --quiet
        --force-exclude --jobs
        """
    ).split():
        assert option in text
