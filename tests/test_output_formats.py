"""Renderer unit tests: every output format from hand-made diagnostics.

The emoji line pins each format's column unit: the flagged call starts after two emoji, at
code point 10 (0-based), which is 1-based column 11 in text/JSON/GitHub/SARIF (SARIF
declares code points) and UTF-16 unit 12 in LSP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest

from kerascheck import __version__
from kerascheck.diagnostics import (
    Applicability,
    Diagnostic,
    Edit,
    Fix,
    Position,
    Severity,
)
from kerascheck.output import FORMATS, OutputOptions, render, to_lsp_diagnostic, utf16_column
from kerascheck.registry import get_rule

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0.json"
SEED_EXAMPLE = Path(__file__).parent.parent / "examples" / "seed000_model_alias.py"
ANSI = re.compile(r"\x1b\[")
URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")  # RFC 3986

EMOJI_LINE = 'x = "😀😀"; model.fit(x, y)'
FLAGGED = EMOJI_LINE.index("model")  # 10 code points, 12 UTF-16 units
ROOT = Path("/work/project")


def options(**changes: Any) -> OutputOptions:
    return OutputOptions(**{"root": ROOT, "cwd": ROOT, "rule_codes": ("KC006", "KC900"), **changes})


def finding(**changes: Any) -> Diagnostic:
    """A KC006 warning on the emoji line's call, without a fix unless given one."""
    fields: Dict[str, Any] = dict(
        code="KC006",
        name="optimizer-lr-argument",
        message="`SGD(lr=...)`: use `learning_rate=`",
        path="src/train.py",
        start=Position(3, FLAGGED),
        end=Position(3, len(EMOJI_LINE)),
        help="rename the keyword",
        source_line=EMOJI_LINE,
        end_source_line=EMOJI_LINE,
    )
    fields.update(changes)
    return Diagnostic(**fields)


def fix(applicability: Applicability = Applicability.SAFE) -> Fix:
    edit = Edit(Position(3, FLAGGED), Position(3, FLAGGED + 5), "net")
    return Fix("Rename `model` to `net`", (edit,), applicability)


def notebook_finding() -> Diagnostic:
    return finding(
        path="notebooks/train.ipynb",
        cell=5,
        start=Position(3, 4),
        end=Position(3, 9),
        source_line="    fit()",
        end_source_line="    fit()",
    )


def multiline_finding() -> Diagnostic:
    """A range from the emoji line's call to column 4 of a line with one emoji before it."""
    return finding(end=Position(4, 4), end_source_line="😀 ab)")


def error_finding() -> Diagnostic:
    return Diagnostic(
        code="KC900",
        name="unanalyzable-file",
        message="cannot read file: Permission denied",
        path="src/locked.py",
        start=Position(1, 0),
        end=Position(1, 0),
        severity=Severity.ERROR,
    )


# --------------------------------------------------------------------------------------
# Column conversion


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("model.fit()", 6, 6),
        (EMOJI_LINE, FLAGGED, 12),
        ("é中 = f()", 5, 5),  # characters of the Basic Multilingual Plane are one unit
        ("😀", 1, 2),
        ("😀", 3, 4),  # past the end of the line: the remaining columns count one each
        (None, 7, 7),  # no text (an unreadable file): nothing to convert
    ],
)
def test_utf16_column(line: str, column: int, expected: int) -> None:
    assert utf16_column(line, column) == expected


# --------------------------------------------------------------------------------------
# concise


def test_concise_uses_one_based_code_point_columns() -> None:
    text = render("concise", [finding()], options())
    assert text == "src/train.py:3:11: KC006 `SGD(lr=...)`: use `learning_rate=`\n"


def test_concise_notebook_location_names_the_cell() -> None:
    text = render("concise", [notebook_finding()], options())
    assert text.startswith("notebooks/train.ipynb:cell 5:3:5: KC006 ")


def test_concise_keeps_one_line_per_finding() -> None:
    text = render("concise", [finding(message="expected ')'\nat line 4")], options())
    assert text == "src/train.py:3:11: KC006 expected ')' at line 4\n"


def test_concise_is_empty_without_findings() -> None:
    assert render("concise", [], options()) == ""


# --------------------------------------------------------------------------------------
# json and json-lines


def test_json_object_shape_and_columns() -> None:
    [item] = json.loads(render("json", [finding(fix=fix())], options()))
    assert item == {
        "code": "KC006",
        "name": "optimizer-lr-argument",
        "message": "`SGD(lr=...)`: use `learning_rate=`",
        "severity": "warning",
        "filename": "src/train.py",
        "location": {"row": 3, "column": 11},
        "end_location": {"row": 3, "column": 26},
        "cell": None,
        "fix": {
            "applicability": "safe",
            "message": "Rename `model` to `net`",
            "edits": [
                {
                    "content": "net",
                    "location": {"row": 3, "column": 11},
                    "end_location": {"row": 3, "column": 16},
                }
            ],
        },
        "url": "https://github.com/kerascheck/kerascheck/blob/main/docs/rules/KC006.md",
    }
    assert list(item) == [
        "code", "name", "message", "severity", "filename",
        "location", "end_location", "cell", "fix", "url",
    ]  # fmt: skip


def test_json_notebook_rows_are_within_the_cell() -> None:
    [item] = json.loads(render("json", [notebook_finding()], options()))
    assert item["cell"] == 5
    assert item["filename"] == "notebooks/train.ipynb"
    assert item["location"] == {"row": 3, "column": 5}
    assert item["end_location"] == {"row": 3, "column": 10}


def test_json_is_an_indented_array_sorted_by_position() -> None:
    late, early = finding(start=Position(9, 0), end=Position(9, 1)), finding()
    text = render("json", [late, early], options())
    assert text.startswith("[\n  {\n")
    assert [item["location"]["row"] for item in json.loads(text)] == [3, 9]
    assert render("json", [], options()) == "[]\n"


def test_json_lines_are_the_json_objects_one_compact_line_each() -> None:
    diagnostics = [finding(fix=fix()), notebook_finding(), error_finding()]
    lines = render("json-lines", diagnostics, options()).splitlines()
    as_array = json.loads(render("json", diagnostics, options()))
    assert [json.loads(line) for line in lines] == as_array
    assert lines[0].startswith('{"code":"KC006","name":"optimizer-lr-argument","message":')


# --------------------------------------------------------------------------------------
# github


def test_github_annotation_with_one_based_columns() -> None:
    text = render("github", [finding()], options())
    assert text == (
        "::warning title=kerascheck (KC006),file=src/train.py,line=3,col=11,endLine=3,"
        "endColumn=26::`SGD(lr=...)`: use `learning_rate=`\n"
    )


def test_github_errors_use_the_error_command() -> None:
    text = render("github", [error_finding()], options())
    assert text.startswith("::error title=kerascheck (KC900),")


def test_github_escapes_data_and_properties() -> None:
    tricky = finding(path="dir:a,b/100%.py", message="50% done\r\nnext: a, b")
    text = render("github", [tricky], options())
    assert "file=dir%3Aa%2Cb/100%25.py," in text
    assert text.endswith("::50%25 done%0D%0Anext: a, b\n")


def test_github_multiline_range_has_no_columns() -> None:
    text = render("github", [multiline_finding()], options())
    assert "line=3,endLine=4::" in text
    assert "col=" not in text and "endColumn=" not in text


def test_github_notebook_message_names_the_cell() -> None:
    text = render("github", [notebook_finding()], options())
    assert "file=notebooks/train.ipynb,line=3,col=5,endLine=3,endColumn=10::" in text
    assert "::cell 5, line 3: `SGD(lr=...)`" in text


# --------------------------------------------------------------------------------------
# sarif


def validate_sarif(log: Dict[str, Any]) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    assert validator_class is jsonschema.Draft4Validator  # the schema's own "$schema"
    validator_class.check_schema(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(log)


def sarif(diagnostics: List[Diagnostic], **changes: Any) -> Dict[str, Any]:
    log = json.loads(render("sarif", diagnostics, options(**changes)))
    validate_sarif(log)
    return log


def results(log: Dict[str, Any]) -> List[Dict[str, Any]]:
    return log["runs"][0]["results"]


def test_sarif_validates_against_the_schema() -> None:
    log = sarif([finding(fix=fix()), notebook_finding(), multiline_finding(), error_finding()])
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    assert len(results(log)) == 4


def test_sarif_without_findings_still_describes_the_rules() -> None:
    log = sarif([])
    assert results(log) == []
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["KC006", "KC900"]


def test_sarif_tool_lists_every_enabled_rule() -> None:
    driver = sarif([finding()])["runs"][0]["tool"]["driver"]
    assert driver["name"] == "kerascheck"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    kc006, kc900 = driver["rules"]
    assert kc006["id"] == "KC006" and kc006["name"] == "optimizer-lr-argument"
    assert kc006["shortDescription"]["text"] == get_rule("KC006").summary
    assert kc006["fullDescription"]["text"].startswith("Finds Keras optimizers")
    assert kc006["help"]["markdown"] == get_rule("KC006").documentation()
    assert kc006["help"]["text"]
    assert kc006["helpUri"] == get_rule("KC006").url()
    assert kc006["defaultConfiguration"] == {"level": "warning"}
    assert kc900["defaultConfiguration"] == {"level": "error"}


def test_sarif_result_location_uses_code_point_columns_and_the_source_root() -> None:
    log = sarif([finding(path="src/my model.py")])
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///work/project/"}}
    [result] = results(log)
    assert result["ruleId"] == "KC006"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "KC006"
    assert result["level"] == "warning"
    assert result["message"] == {"text": "`SGD(lr=...)`: use `learning_rate=`"}
    [location] = result["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "src/my%20model.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 11, "endLine": 3, "endColumn": 26},
    }


def test_sarif_uris_are_percent_encoded() -> None:
    # The schema's "uri-reference" format is not checked without extra packages: check here.
    log = sarif([finding(path="src/a b#1%/modèle.py")])
    location = results(log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "src/a%20b%231%25/mod%C3%A8le.py"
    assert URI_CHARACTERS.fullmatch(location["uri"])


def test_sarif_paths_relative_to_a_root_other_than_the_working_directory() -> None:
    log = sarif([finding(path="../other/train.py")], cwd=ROOT / "src")
    location = results(log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "other/train.py", "uriBaseId": "%SRCROOT%"}


def test_sarif_file_outside_the_root_gets_an_absolute_uri() -> None:
    log = sarif([finding(path="/elsewhere/train.py")])
    location = results(log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "file:///elsewhere/train.py"}


def test_sarif_multiline_region() -> None:
    [result] = results(sarif([multiline_finding()]))
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 11, "endLine": 4, "endColumn": 5}


def test_sarif_notebook_result_carries_the_cell() -> None:
    [result] = results(sarif([notebook_finding()]))
    assert result["properties"] == {"cell": 5}
    assert result["message"]["text"].startswith("cell 5, line 3: ")
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (3, 5)


def test_sarif_error_level() -> None:
    [result] = results(sarif([error_finding()]))
    assert (result["ruleId"], result["level"]) == ("KC900", "error")


def line_hashes(diagnostics: List[Diagnostic]) -> List[str]:
    log = sarif(diagnostics)
    return [r["partialFingerprints"]["primaryLocationLineHash"] for r in results(log)]


def test_sarif_fingerprint_ignores_the_line_number_and_counts_repeats() -> None:
    [here] = line_hashes([finding()])
    [moved] = line_hashes([finding(start=Position(40, FLAGGED), end=Position(40, 25))])
    assert re.fullmatch(r"[0-9a-f]{16}:1", here)
    assert moved == here  # lines added above the finding do not make it a new alert

    repeated = line_hashes([finding(), finding(start=Position(7, FLAGGED), end=Position(7, 25))])
    assert repeated == [here, here.replace(":1", ":2")]

    other_file, other_code = line_hashes([finding(path="b.py"), finding(code="KC005")])
    assert other_file.endswith(":1")  # counted per file
    assert other_code.split(":")[0] != here.split(":")[0]


# --------------------------------------------------------------------------------------
# lsp


def test_lsp_params_group_by_file_with_utf16_characters() -> None:
    later = finding(start=Position(5, 0), end=Position(5, 3))
    params = json.loads(render("lsp", [finding(fix=fix()), error_finding(), later], options()))
    assert [p["uri"] for p in params] == [
        "file:///work/project/src/locked.py",
        "file:///work/project/src/train.py",
    ]
    locked, train = params
    assert locked["diagnostics"][0]["severity"] == 1
    first, second = train["diagnostics"]
    assert first == {
        "range": {"start": {"line": 2, "character": 12}, "end": {"line": 2, "character": 27}},
        "severity": 2,
        "code": "KC006",
        "codeDescription": {"href": get_rule("KC006").url()},
        "source": "kerascheck",
        "message": "`SGD(lr=...)`: use `learning_rate=`",
        "data": {"fix": fix().to_dict(), "cell": None},
    }
    assert second["range"]["start"] == {"line": 4, "character": 0}


def test_lsp_uri_is_absolute_from_the_working_directory() -> None:
    text = render("lsp", [finding(path="my model.py")], options(cwd=ROOT / "sub dir"))
    [param] = json.loads(text)
    assert param["uri"] == "file:///work/project/sub%20dir/my%20model.py"


def test_lsp_multiline_end_converts_on_the_last_line() -> None:
    result = to_lsp_diagnostic(multiline_finding())
    assert result["range"] == {
        "start": {"line": 2, "character": 12},
        "end": {"line": 3, "character": 5},
    }


def test_lsp_notebook_reports_against_the_notebook_with_the_cell() -> None:
    [param] = json.loads(render("lsp", [notebook_finding()], options()))
    assert param["uri"] == "file:///work/project/notebooks/train.ipynb"
    [diagnostic] = param["diagnostics"]
    assert diagnostic["range"]["start"] == {"line": 2, "character": 4}
    assert diagnostic["data"]["cell"] == 5


def test_lsp_without_findings_is_an_empty_array() -> None:
    assert json.loads(render("lsp", [], options())) == []


# --------------------------------------------------------------------------------------
# full


def test_full_shows_the_line_and_a_caret_under_the_span() -> None:
    text = render("full", [finding()], options())
    lines = text.splitlines()
    assert lines[0] == (
        "src/train.py:3:11: KC006 [optimizer-lr-argument] `SGD(lr=...)`: use `learning_rate=`"
    )
    assert lines[1:4] == [
        "  |",
        f"3 | {EMOJI_LINE}",
        # Each emoji is two terminal cells wide: the caret starts under the `m` of `model`.
        "  | " + " " * 12 + "^" * len("model.fit(x, y)"),
    ]
    assert lines[4] == "  = help: rename the keyword"


def test_full_caret_on_a_tabbed_line_and_a_multiline_range() -> None:
    tabbed = finding(source_line="\tfit(a,", start=Position(3, 1), end=Position(4, 2))
    lines = render("full", [tabbed], options()).splitlines()
    assert lines[2] == "3 |     fit(a,"
    assert lines[3] == "  |     ^^^^^^"  # a multi-line range is underlined to the line's end


def test_full_without_source_line_has_no_snippet() -> None:
    lines = render("full", [error_finding()], options()).splitlines()
    assert lines[0] == (
        "src/locked.py:1:1: KC900 [unanalyzable-file] cannot read file: Permission denied"
    )
    assert lines[1] == ""


def test_full_notebook_header_names_the_cell() -> None:
    text = render("full", [notebook_finding()], options())
    assert text.startswith("notebooks/train.ipynb:cell 5:3:5: KC006 [optimizer-lr-argument] ")


def test_full_marks_fixable_findings_and_names_the_fix() -> None:
    text = render("full", [finding(fix=fix())], options())
    assert text.startswith("src/train.py:3:11: KC006 [*] [optimizer-lr-argument] ")
    assert "  = fix available: Rename `model` to `net`\n" in text


def test_full_unsafe_fix_is_marked_only_when_enabled() -> None:
    unsafe = finding(fix=fix(Applicability.UNSAFE))
    hidden = render("full", [unsafe], options())
    assert "[*]" not in hidden
    assert "= unsafe fix available with --unsafe-fixes: Rename" in hidden
    assert "[*]" in render("full", [unsafe], options(unsafe_fixes=True))


def test_full_without_fix_hints() -> None:
    text = render("full", [finding(fix=fix())], options(show_fix_hints=False))
    assert "[*]" not in text and "fix available" not in text
    assert text.endswith("Found 1 problem.\n")


def summary(diagnostics: List[Diagnostic], **changes: Any) -> List[str]:
    text = render("full", diagnostics, options(**changes))
    return text.rstrip("\n").split("\n\n")[-1].splitlines()


def test_full_summary_counts_safe_fixes_and_hidden_unsafe_ones() -> None:
    safe, unsafe = finding(fix=fix()), finding(code="KC005", fix=fix(Applicability.UNSAFE))
    mixed = [safe, unsafe, unsafe.with_changes(code="KC004"), error_finding()]
    assert summary(mixed) == [
        "Found 4 problems (1 fixable with --fix).",
        "(2 hidden fixes can be enabled with the `--unsafe-fixes` option.)",
    ]
    assert summary(mixed, unsafe_fixes=True) == ["Found 4 problems (3 fixable with --fix)."]
    assert summary([unsafe]) == [
        "Found 1 problem.",
        "(1 hidden fix can be enabled with the `--unsafe-fixes` option.)",
    ]
    assert summary([error_finding()]) == ["Found 1 problem."]


def test_full_without_findings() -> None:
    assert render("full", [], options()) == "All checks passed!\n"
    assert render("full", [], options(files_checked=3)) == "All checks passed! (3 files checked)\n"


def test_full_plain_text_has_no_ansi_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # even when the environment asks for color
    text = render("full", [finding(fix=fix()), error_finding()], options(color=False))
    assert not ANSI.search(text)


def test_full_colors_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = render("full", [finding(fix=fix()), error_finding()], options(color=True))
    assert ANSI.search(text)
    assert "src/train.py" in ANSI.sub("", text)


# --------------------------------------------------------------------------------------
# dispatch


def test_every_format_renders_and_unknown_formats_are_refused() -> None:
    for fmt in FORMATS:
        assert isinstance(render(fmt, [finding(), notebook_finding()], options()), str)
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render("xml", [finding()], options())


def test_full_prints_brackets_and_colons_literally() -> None:
    # Rich markup and emoji codes in a message or a source line are text, not styling.
    odd = finding(message="use [bold]x[/bold] :smile:", source_line="y = '[red]' :+1:")
    text = render("full", [odd], options())
    assert "use [bold]x[/bold] :smile:" in text
    assert "3 | y = '[red]' :+1:" in text


# --------------------------------------------------------------------------------------
# through the command: a file name that is not UTF-8

UNDECODABLE_NAME = b"bad\xff.py"  # Python's str for it holds a lone surrogate: "bad\udcff.py"
PRINTED_NAME = "bad\\xff.py"  # how the text formats show it


@pytest.fixture(scope="module")
def undecodable_name(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a seed example with a real finding under a name that is not UTF-8."""
    folder = tmp_path_factory.mktemp("names")
    try:
        (folder / os.fsdecode(UNDECODABLE_NAME)).write_bytes(SEED_EXAMPLE.read_bytes())
    except OSError:  # file systems that store names as Unicode (macOS, Windows) refuse it
        pytest.skip("this file system only takes UTF-8 file names")
    return folder


def check_folder(folder: Path, fmt: str) -> str:
    """The command's output for ``folder``, which must have findings. stdout's encoding is
    strict UTF-8, as under a UTF-8 locale such as en_US.UTF-8 (the C locale would write a
    lone surrogate back as its byte), and the output must decode as strict UTF-8."""
    completed = subprocess.run(
        [sys.executable, "-m", "kerascheck", "check", "--no-cache", "--output-format", fmt, "."],
        cwd=str(folder),
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    stderr = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode == 1, stderr  # findings, not an internal error (2)
    assert "Traceback" not in stderr
    return completed.stdout.decode("utf-8")


def test_sarif_names_an_undecodable_file_by_its_percent_encoded_bytes(
    undecodable_name: Path,
) -> None:
    text = check_folder(undecodable_name, "sarif")
    assert "\\udc" not in text  # no lone surrogate, which strict JSON readers refuse
    log = json.loads(text)
    validate_sarif(log)
    locations = [
        result["locations"][0]["physicalLocation"]["artifactLocation"] for result in results(log)
    ]
    assert locations
    assert all(location == {"uri": "bad%FF.py", "uriBaseId": "%SRCROOT%"} for location in locations)


@pytest.mark.parametrize("fmt", ["json", "json-lines"])
def test_json_filename_of_an_undecodable_file_gives_back_its_bytes(
    undecodable_name: Path, fmt: str
) -> None:
    # JSON escapes the surrogate ("bad\udcff.py"): the text is ASCII, and a reader in Python
    # gets the name that os.fsencode turns back into the file's own bytes.
    text = check_folder(undecodable_name, fmt)
    assert text.isascii()
    items = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    assert items
    assert {os.fsencode(item["filename"]) for item in items} == {UNDECODABLE_NAME}


def test_lsp_uri_of_an_undecodable_file_is_percent_encoded(undecodable_name: Path) -> None:
    [param] = json.loads(check_folder(undecodable_name, "lsp"))
    assert param["uri"] == (undecodable_name / "bad").as_uri() + "%FF.py"
    assert param["diagnostics"]


@pytest.mark.parametrize(
    ("fmt", "location"),
    [
        ("concise", f"{PRINTED_NAME}:"),
        ("full", f"{PRINTED_NAME}:"),
        ("github", f"file={PRINTED_NAME},"),
    ],
)
def test_text_formats_show_an_undecodable_byte_as_an_escape(
    undecodable_name: Path, fmt: str, location: str
) -> None:
    lines = check_folder(undecodable_name, fmt).splitlines()
    flagged = [line for line in lines if location in line]
    assert flagged
    assert flagged == [line for line in lines if "bad" in line]
