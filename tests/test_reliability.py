"""Hostile inputs through the real command: each gives a correct result or one KC900
finding, never a traceback, a hang, a lost finding elsewhere in the run or a changed file;
``--fix`` writes atomically and keeps mode, encoding, BOM and line endings; Ctrl-C leaves
no partial file, prints one line and exits 130."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

from .every_trigger import EVERY_TRIGGER

# A file every run includes, so that a hostile neighbour cannot make a finding disappear.
GOOD = b"from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n"
GOOD_FIXED = b"from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.1)\n"
GOOD_FINDING = ("good.py", "KC006", 2, 28)
# The first line of generated Python files: every rule's trigger matches it, so the file
# is parsed (and so can give KC900) whatever rules exist.
HEADER = EVERY_TRIGGER

Finding = Tuple[str, str, int, int]  # filename, code, row, column (1-based, as in JSON)


def run(
    *args: str,
    cwd: Path,
    timeout: float = 60,
    stdin: bytes = b"",
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "kerascheck", "check", *args],
        cwd=str(cwd),
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    return result


def check_json(
    *paths: str, cwd: Path, options: Sequence[str] = (), timeout: float = 60
) -> Tuple[int, List[dict]]:
    result = run(
        "--output-format", "json", "--no-cache", *options, *paths, cwd=cwd, timeout=timeout
    )
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    return result.returncode, json.loads(result.stdout)


def summary(findings: List[dict]) -> List[Finding]:
    return sorted(
        (f["filename"], f["code"], f["location"]["row"], f["location"]["column"]) for f in findings
    )


def write_files(folder: Path, files: Dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def snapshot(folder: Path) -> Dict[str, tuple]:
    """Everything in ``folder`` that a run could change: names, kinds, bytes, modes."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                state[str(path.relative_to(folder))] = (
                    path.read_bytes(),
                    info.st_mode,
                    info.st_mtime_ns,
                )
            elif stat.S_ISLNK(info.st_mode):
                state[str(path.relative_to(folder))] = ("link", os.readlink(path))
            else:
                state[str(path.relative_to(folder))] = (stat.S_IFMT(info.st_mode), info.st_mode)
    return state


def nested(opening: str, closing: str, depth: int, middle: str = "1") -> bytes:
    return (HEADER + "x = " + opening * depth + middle + closing * depth + "\n").encode()


# ---- hostile Python files -------------------------------------------------------------------

NESTED_TOO_DEEPLY = "nested too deeply"
HOSTILE_FILES: Dict[str, Tuple[bytes, Optional[Tuple[int, str]]]] = {
    # name: (content, (row, words of the message) of the expected KC900, or None)
    "syntax_error.py": ((HEADER + "def broken(:\n    pass\n").encode(), (2, "syntax error")),
    "undecodable.py": (HEADER.encode() + b"name = '\xff\xfe'\n", (2, "cannot decode")),
    "unknown_cookie.py": (b"# -*- coding: klingon -*-\n" + HEADER.encode(), (1, "encoding")),
    "lying_cookie.py": (
        b"# coding: ascii\n" + HEADER.encode() + "s = 'é'\n".encode(),
        (3, "cannot decode"),
    ),
    "missing_cookie.py": (HEADER.encode() + "s = 'é'\n".encode("latin-1"), (2, "cannot decode")),
    "punycode_cookie.py": (b"# -*- coding: punycode -*-\n" + HEADER.encode(), (1, "cannot decode")),
    "undefined_cookie.py": (b"# coding: undefined\n" + HEADER.encode(), (1, "cannot decode")),
    "rot13_cookie.py": (b"# coding: rot13\n" + HEADER.encode(), (1, "not a text encoding")),
    "bom_and_cookie.py": (b"\xef\xbb\xbf# coding: latin-1\n" + HEADER.encode(), (1, "encoding")),
    "nul_bytes.py": (HEADER.encode() + b"x = 1\x00\n", (1, "NUL")),
    "utf16.py": (("# -*- coding: utf-16 -*-\n" + HEADER).encode("utf-16"), (1, "NUL")),
    "binary.py": (bytes(random.Random(7).randrange(256) for _ in range(4096)), (1, "")),
    "binary_without_nul.py": (bytes(range(128, 256)) * 16, (1, "encoding")),
    "empty.py": (b"", None),
    "only_bom.py": (b"\xef\xbb\xbf", None),
    "nested_5000_parentheses.py": (nested("(", ")", 5000), (2, NESTED_TOO_DEEPLY)),
    "nested_100000_parentheses.py": (nested("(", ")", 100_000), (2, NESTED_TOO_DEEPLY)),
    "nested_5000_calls.py": (nested("f(", ")", 5000), (2, NESTED_TOO_DEEPLY)),
    "nested_5000_lists.py": (nested("[", "]", 5000), (2, NESTED_TOO_DEEPLY)),
    "nested_dicts.py": (nested("{1: ", "}", 5000), (2, NESTED_TOO_DEEPLY)),
    "nested_fstrings.py": (nested('f"{', '}"', 1000), (2, NESTED_TOO_DEEPLY)),
    "long_sum.py": (
        (HEADER + "x = " + " + ".join(["a"] * 100_000) + "\n").encode(),
        (2, NESTED_TOO_DEEPLY),
    ),
    "long_and_chain.py": (
        (HEADER + "x = " + " and ".join(["a"] * 10_000) + "\n").encode(),
        (2, NESTED_TOO_DEEPLY),
    ),
    "nested_lambdas.py": (
        (HEADER + "f = " + "lambda: " * 10_000 + "1\n").encode(),
        (2, NESTED_TOO_DEEPLY),
    ),
    "unary_minus.py": ((HEADER + "x = " + "-" * 100_000 + "1\n").encode(), (2, NESTED_TOO_DEEPLY)),
    "attribute_chain.py": (
        (HEADER + "x = a" + ".b" * 5000 + "\n").encode(),
        (2, NESTED_TOO_DEEPLY),
    ),
    "call_chain.py": ((HEADER + "x = a" + "()" * 5000 + "\n").encode(), (2, NESTED_TOO_DEEPLY)),
    "continued_sum.py": (
        (HEADER + "x = a" + " + \\\n a" * 5000 + "\n").encode(),
        (502, NESTED_TOO_DEEPLY),
    ),
    "implicit_concatenation.py": (
        (HEADER + "s = " + "'a' " * 10_000 + "\n").encode(),
        (2, NESTED_TOO_DEEPLY),
    ),
    "elif_chain.py": (
        (HEADER + "if a:\n    pass\n" + "elif a:\n    pass\n# a comment\n" * 10_000).encode(),
        (None, NESTED_TOO_DEEPLY),
    ),
    "three_mb_one_line.py": (
        (HEADER + "W = [" + ", ".join(["0.123456"] * 300_000) + "]").encode(),
        (1, "million characters"),
    ),
    "five_mb.py": (
        (HEADER + "def f(x):\n    return keras.layers.Dense(8)(x) + 1\n\n" * 90_000).encode(),
        (1, "million characters"),
    ),
    "nine_mb.py": ((HEADER + "x = 1\n" * 1_600_000).encode(), (1, "MiB limit")),
    "form_feed_and_unicode.py": (
        "from tensorflow import keras\n\x0c\nλ = '😀'; opt = keras.optimizers.SGD(lr=0.1)\n".encode(),
        None,
    ),
}
HOSTILE_FILES["deep_but_valid.py"] = (
    (
        HEADER
        + "x = "
        + " + ".join(["a"] * 400)
        + "\nopt = keras.optimizers.SGD(lr="
        + "(" * 150
        + "0.1"
        + ")" * 150
        + ")\n"
    ).encode(),
    None,
)
# Findings that are correct results rather than KC900.
HOSTILE_CORRECT_FINDINGS = [
    ("deep_but_valid.py", "KC006", 3, 28),
    ("form_feed_and_unicode.py", "KC006", 3, 37),
]


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    write_files(folder, {name: data for name, (data, _) in HOSTILE_FILES.items()})
    write_files(folder, {"good.py": GOOD})
    return folder


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_file_named_alone(hostile_folder: Path, name: str):
    """In process (one file never starts the pool): a finding or one KC900, never a crash."""
    before = snapshot(hostile_folder)
    status, findings = check_json(name, "good.py", cwd=hostile_folder, options=["--jobs", "1"])
    assert status == 1
    found = summary(findings)
    assert GOOD_FINDING in found
    kc900 = [f for f in findings if f["code"] == "KC900"]
    expected = HOSTILE_FILES[name][1]
    if expected is None:
        assert kc900 == []
        assert len(found) == 1 + sum(1 for f in HOSTILE_CORRECT_FINDINGS if f[0] == name)
    else:
        row, words = expected
        assert len(kc900) == 1, kc900
        assert kc900[0]["filename"] == name
        assert words in kc900[0]["message"]
        if row is not None:
            assert kc900[0]["location"]["row"] == row
    assert snapshot(hostile_folder) == before


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_hostile_folder_scan(hostile_folder: Path, jobs: str):
    """All hostile files in one folder scan, in process and in the pool: same findings."""
    before = snapshot(hostile_folder)
    status, findings = check_json(".", cwd=hostile_folder, options=["--jobs", jobs], timeout=240)
    assert status == 1
    found = summary(findings)
    assert GOOD_FINDING in found
    for finding in HOSTILE_CORRECT_FINDINGS:
        assert finding in found
    kc900 = sorted(f["filename"] for f in findings if f["code"] == "KC900")
    assert kc900 == sorted(name for name, (_, expected) in HOSTILE_FILES.items() if expected)
    assert snapshot(hostile_folder) == before


def test_pool_and_in_process_agree_on_hostile_files(hostile_folder: Path):
    _, one = check_json(".", cwd=hostile_folder, options=["--jobs", "1"], timeout=240)
    _, two = check_json(".", cwd=hostile_folder, options=["--jobs", "3"], timeout=240)
    assert one == two


def test_fix_leaves_hostile_files_alone(tmp_path: Path):
    write_files(
        tmp_path, {name: data for name, (data, _) in HOSTILE_FILES.items() if "mb" not in name}
    )
    write_files(tmp_path, {"good.py": GOOD})
    before = snapshot(tmp_path)
    result = run("--fix", "--no-cache", "--output-format", "json", ".", cwd=tmp_path, timeout=240)
    assert result.returncode == 1  # the KC900 findings remain
    after = snapshot(tmp_path)
    for fixed in ("good.py", "deep_but_valid.py", "form_feed_and_unicode.py"):
        assert after.pop(fixed)[0] == before.pop(fixed)[0].replace(b"(lr=", b"(learning_rate=")
    assert after == before


# ---- line endings, indentation, BOM: findings at the right row ------------------------------

ROWS_AND_ENDINGS = {
    "crlf.py": (
        b"from tensorflow import keras\r\nx = 1\r\nopt = keras.optimizers.SGD(lr=0.1)\r\n",
        3,
        28,
    ),
    "cr_only.py": (
        b"from tensorflow import keras\rx = 1\ropt = keras.optimizers.SGD(lr=0.1)\r",
        3,
        28,
    ),
    "tabs.py": (
        b"from tensorflow import keras\nif True:\n\topt = keras.optimizers.SGD(lr=0.1)\n",
        3,
        29,
    ),
    "bom.py": (
        b"\xef\xbb\xbffrom tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n",
        2,
        28,
    ),
    "no_final_newline.py": (
        b"from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)",
        2,
        28,
    ),
    "stray_cr_in_docstring.py": (
        b'from tensorflow import keras\n"""a docstring\rwith a stray carriage return"""\n'
        b"opt = keras.optimizers.SGD(lr=0.1)\n",
        4,
        28,
    ),
    "latin1_cookie.py": (
        b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nfrom tensorflow import keras\n"
        b"name = '\xe9t\xe9'\nopt = keras.optimizers.SGD(lr=0.1)\n",
        5,
        28,
    ),
}


@pytest.mark.parametrize("name", sorted(ROWS_AND_ENDINGS))
def test_findings_at_the_right_row(tmp_path: Path, name: str):
    data, row, column = ROWS_AND_ENDINGS[name]
    write_files(tmp_path, {name: data})
    before = snapshot(tmp_path)
    status, findings = check_json(name, cwd=tmp_path)
    assert status == 1
    assert summary(findings) == [(name, "KC006", row, column)]
    assert snapshot(tmp_path) == before


def test_noqa_works_with_carriage_return_line_endings(tmp_path: Path):
    write_files(
        tmp_path,
        {
            "cr.py": b"from tensorflow import keras\ropt = keras.optimizers.SGD(lr=0.1)  # noqa: KC006\r"
        },
    )
    assert check_json("cr.py", cwd=tmp_path) == (0, [])


# ---- --fix: atomic, and keeping mode, encoding, BOM and line endings ------------------------

FIX_CASES = {
    # name: (content, mode); the fix only renames `lr=` to `learning_rate=`, byte for byte
    "lf.py": (GOOD, 0o644),
    "crlf.py": (GOOD.replace(b"\n", b"\r\n"), 0o600),
    "cr_only.py": (GOOD.replace(b"\n", b"\r"), 0o644),
    "bom.py": (b"\xef\xbb\xbf" + GOOD, 0o644),
    "executable.py": (b"#!/usr/bin/env python\n" + GOOD, 0o755),
    "latin1_cookie.py": (b"# -*- coding: latin-1 -*-\n" + GOOD + b"name = '\xe9t\xe9'\n", 0o640),
    "tabs.py": (
        b"from tensorflow import keras\nif True:\n\topt = keras.optimizers.SGD(lr=0.1)\n",
        0o644,
    ),
    "no_final_newline.py": (GOOD.rstrip(b"\n"), 0o644),
}


@pytest.mark.parametrize("name", sorted(FIX_CASES))
def test_fix_keeps_mode_encoding_bom_and_line_endings(tmp_path: Path, name: str):
    data, mode = FIX_CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(mode)
    expected = data.replace(b"(lr=", b"(learning_rate=")
    result = run("--fix", "--no-cache", "--output-format", "json", name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert path.read_bytes() == expected
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind
    # A second --fix changes nothing.
    again = run("--fix", "--no-cache", "--output-format", "json", name, cwd=tmp_path)
    assert again.returncode == 0 and path.read_bytes() == expected


def test_fix_replaces_the_file_rather_than_rewriting_it(tmp_path: Path):
    """A reader holding the old file sees it whole: the fixed file is a new inode."""
    path = tmp_path / "model.py"
    path.write_bytes(GOOD)
    old_inode = path.stat().st_ino
    with open(path, "rb") as reader:
        run("--fix", "--no-cache", "model.py", cwd=tmp_path)
        assert reader.read() == GOOD
    assert path.read_bytes() == GOOD_FIXED
    assert path.stat().st_ino != old_inode


def test_fix_does_not_touch_a_file_with_mixed_line_breaks(tmp_path: Path):
    """A stray lone "\\r" in a "\\n" file cannot be written back exactly: not fixed."""
    data = b'from tensorflow import keras\n"""a\rb"""\nopt = keras.optimizers.SGD(lr=0.1)\n'
    write_files(tmp_path, {"mixed.py": data})
    result = run("--fix", "--no-cache", "--output-format", "json", "mixed.py", cwd=tmp_path)
    assert result.returncode == 1
    assert summary(json.loads(result.stdout)) == [("mixed.py", "KC006", 4, 28)]
    assert (tmp_path / "mixed.py").read_bytes() == data


def test_diff_writes_nothing(tmp_path: Path):
    write_files(tmp_path, {"good.py": GOOD})
    before = snapshot(tmp_path)
    result = run("--diff", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert b"+opt = keras.optimizers.SGD(learning_rate=0.1)" in result.stdout
    assert snapshot(tmp_path) == before


def run_wrapped(patch: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command with ``patch`` (Python source) run first, to stage a race or a
    failure that a test cannot otherwise provoke (as root, every folder is writable)."""
    program = (
        "import os, sys\n" + patch + "from kerascheck.cli import main\n"
        "sys.argv = ['kerascheck', 'check', '--no-cache', '--output-format', 'json', *sys.argv[1:]]\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, *args], cwd=str(cwd), capture_output=True, timeout=60
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    return result


def test_fix_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path: Path):
    write_files(tmp_path, {"locked/model.py": GOOD, "open/model.py": GOOD})
    refuse_locked_folder = (
        "import tempfile\n"
        "mkstemp = tempfile.mkstemp\n"
        "def refusing_mkstemp(*args, dir=None, **kwargs):\n"
        "    if 'locked' in str(dir):\n"
        "        raise PermissionError(13, 'Permission denied')\n"
        "    return mkstemp(*args, dir=dir, **kwargs)\n"
        "tempfile.mkstemp = refusing_mkstemp\n"
    )
    result = run_wrapped(refuse_locked_folder, "--fix", ".", cwd=tmp_path)
    assert result.returncode == 1
    found = {f["code"]: f for f in json.loads(result.stdout)}
    assert sorted(found) == ["KC006", "KC900"]
    assert {f["filename"] for f in found.values()} == {"locked/model.py"}
    assert "cannot write the fixed file: Permission denied" in found["KC900"]["message"]
    assert (tmp_path / "locked/model.py").read_bytes() == GOOD
    assert (tmp_path / "open/model.py").read_bytes() == GOOD_FIXED


# ---- notebooks ---------------------------------------------------------------------------------


def notebook(cells: List[dict], language: Optional[str] = "python") -> bytes:
    metadata = (
        {}
        if language is None
        else {
            "kernelspec": {"name": language, "language": language},
            "language_info": {"name": language},
        }
    )
    return json.dumps(
        {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    ).encode()


def code_cell(source: str) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {},
        "outputs": [],
        "execution_count": None,
    }


KERAS_CELL = code_cell("from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n")

NON_PYTHON_NOTEBOOKS = {
    "r.ipynb": notebook(
        [code_cell("library(keras)\nopt <- optimizer_sgd(lr = 0.1)\nx = (\n")], "R"
    ),
    "julia.ipynb": notebook([code_cell("using Flux\nopt = Descent(lr=0.1)\n")], "julia"),
}

MALFORMED_NOTEBOOKS = {
    "not_json.ipynb": b"{ this is not json",
    "truncated.ipynb": notebook([KERAS_CELL])[:-20],
    "empty.ipynb": b"",
    "a_list.ipynb": b"[1, 2, 3]",
    "no_cells.ipynb": b'{"metadata": {}, "nbformat": 4}',
    "cells_not_a_list.ipynb": b'{"cells": {"a": 1}, "metadata": {}}',
    "cell_not_an_object.ipynb": b'{"cells": ["print(1)"], "metadata": {}}',
    "source_a_number.ipynb": b'{"cells": [{"cell_type": "code", "source": 42}], "metadata": {}}',
    "source_list_of_numbers.ipynb": b'{"cells": [{"cell_type": "code", "source": [1, 2]}], "metadata": {}}',
    "binary.ipynb": bytes(random.Random(3).randrange(256) for _ in range(2048)),
    "latin1.ipynb": b'{"cells": [], "metadata": {"author": "\xe9"}}',
    "deep_json.ipynb": b"[" * 100_000 + b"]" * 100_000,
    "nbformat3.ipynb": b'{"worksheets": [{"cells": []}], "metadata": {}, "nbformat": 3}',
}


def test_non_python_notebooks_are_skipped(tmp_path: Path):
    write_files(tmp_path, {**NON_PYTHON_NOTEBOOKS, "good.py": GOOD})
    before = snapshot(tmp_path)
    status, findings = check_json(".", cwd=tmp_path)
    assert summary(findings) == [GOOD_FINDING]
    assert status == 1
    status, findings = check_json(*NON_PYTHON_NOTEBOOKS, cwd=tmp_path)
    assert (status, findings) == (0, [])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", sorted(MALFORMED_NOTEBOOKS))
def test_malformed_notebook_is_one_kc900(tmp_path: Path, name: str):
    write_files(tmp_path, {name: MALFORMED_NOTEBOOKS[name], "good.py": GOOD})
    before = snapshot(tmp_path)
    status, findings = check_json(name, "good.py", cwd=tmp_path)
    assert status == 1
    assert sorted(f[:2] for f in summary(findings)) == sorted(
        [("good.py", "KC006"), (name, "KC900")]
    )
    assert snapshot(tmp_path) == before
    result = run("--fix", "--no-cache", name, cwd=tmp_path)
    assert result.returncode == 1
    assert (tmp_path / name).read_bytes() == MALFORMED_NOTEBOOKS[name]


def test_hostile_code_in_a_notebook_cell(tmp_path: Path):
    deep = "x = " + "(" * 5000 + ")" * 5000 + "\n"
    write_files(tmp_path, {"deep.ipynb": notebook([KERAS_CELL, code_cell(deep)])})
    status, findings = check_json("deep.ipynb", cwd=tmp_path, options=["--jobs", "1"])
    assert status == 1
    assert [(f["code"], f["cell"]) for f in findings] == [("KC900", 2)]
    assert NESTED_TOO_DEEPLY in findings[0]["message"]


def test_notebook_made_large_by_its_outputs_is_analysed(tmp_path: Path):
    """Plots make notebooks megabytes big; the limit for code is not the limit for JSON
    (a 12 MB notebook was skipped as over the 8 MiB limit for Python files)."""
    image = base64.b64encode(random.Random(5).randbytes(9_000_000)).decode()
    cell = dict(
        KERAS_CELL,
        outputs=[{"output_type": "display_data", "data": {"image/png": image}, "metadata": {}}],
    )
    write_files(tmp_path, {"plots.ipynb": notebook([cell])})
    status, findings = check_json("plots.ipynb", cwd=tmp_path)
    assert status == 1
    assert [(f["code"], f["cell"], f["location"]["row"]) for f in findings] == [("KC006", 1, 2)]
    run("--fix", "--no-cache", "plots.ipynb", cwd=tmp_path)
    fixed = json.loads((tmp_path / "plots.ipynb").read_bytes())
    assert "learning_rate=0.1" in "".join(fixed["cells"][0]["source"])
    assert fixed["cells"][0]["outputs"][0]["data"]["image/png"] == image


# ---- things that are not regular files ------------------------------------------------------


@pytest.fixture
def odd_paths(tmp_path: Path) -> Path:
    write_files(tmp_path, {"good.py": GOOD, "x.py/inner.py": GOOD})
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    return tmp_path


def test_folder_scan_skips_what_is_not_a_regular_file(odd_paths: Path):
    before = snapshot(odd_paths)
    for jobs in ("1", "2"):
        status, findings = check_json(".", cwd=odd_paths, options=["--jobs", jobs], timeout=30)
        assert status == 1
        assert summary(findings) == [GOOD_FINDING, ("x.py/inner.py", "KC006", 2, 28)]
    assert snapshot(odd_paths) == before


@pytest.mark.parametrize(
    "name, words",
    [
        ("fifo.py", "not a regular file"),
        ("dangling.py", "no such file"),
        ("loop_a.py", "symbolic links"),
        ("missing.py", "no such file"),
    ],
)
@pytest.mark.parametrize("fix", [False, True])
def test_named_odd_path_is_one_kc900_without_blocking(
    odd_paths: Path, name: str, words: str, fix: bool
):
    before = snapshot(odd_paths)
    options = ["--jobs", "1"] + (["--fix"] if fix else [])
    status, findings = check_json(name, "good.py", cwd=odd_paths, options=options, timeout=30)
    assert status == 1
    kc900 = [f for f in findings if f["code"] == "KC900"]
    assert [f["filename"] for f in kc900] == [name]
    assert words in kc900[0]["message"]
    assert len(findings) == (1 if fix else 2)  # good.py is fixed or reported
    if not fix:
        assert snapshot(odd_paths) == before


def test_directory_named_like_a_python_file(odd_paths: Path):
    status, findings = check_json("x.py", cwd=odd_paths)
    assert status == 1
    assert summary(findings) == [("x.py/inner.py", "KC006", 2, 28)]


def test_file_deleted_between_discovery_and_reading(tmp_path: Path):
    delete_after_discovery = (
        "import kerascheck.engine.check as check\n"
        "discover = check.discover\n"
        "def discover_then_delete(*args, **kwargs):\n"
        "    found = discover(*args, **kwargs)\n"
        "    os.remove('vanishing.py')\n"
        "    return found\n"
        "check.discover = discover_then_delete\n"
    )
    for options in (["--jobs", "1"], ["--jobs", "2"], ["--fix"]):
        write_files(tmp_path, {name: GOOD for name in ("a.py", "b.py", "c.py", "vanishing.py")})
        result = run_wrapped(delete_after_discovery, *options, ".", cwd=tmp_path)
        assert result.returncode == 1
        found = summary(json.loads(result.stdout))
        assert ("vanishing.py", "KC900", 1, 1) in found
        assert len(found) == (1 if "--fix" in options else 4)


# ---- Ctrl-C ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> Path:
    """Enough files that a run lasts well beyond the moment the test interrupts it."""
    folder = tmp_path_factory.mktemp("big")
    functions = "".join(
        f"def build_{i}(x):\n"
        f"    model = keras.Sequential([keras.layers.Dense({i + 1}, activation='softmax')])\n"
        "    model.compile(optimizer=keras.optimizers.SGD(lr=0.1), loss='mse')\n"
        "    model.fit(x, x, epochs=2)\n"
        "    return model\n\n"
        for i in range(40)
    )
    source = ("from tensorflow import keras\n\n" + functions).encode()
    write_files(folder, {f"pkg/module_{i:03}.py": source for i in range(300)})
    return folder


def _interrupt(
    folder: Path, options: Sequence[str], whole_group: bool, wait_for=None
) -> subprocess.CompletedProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kerascheck",
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            *options,
            "pkg",
        ],
        cwd=str(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 60
        time.sleep(2)
        while wait_for is not None and not wait_for() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be interrupted"
        if whole_group:  # what Ctrl-C in a terminal does: the workers get SIGINT too
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        assert time.monotonic() - interrupted < 20, "the run did not stop soon after Ctrl-C"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("whole_group", [False, True], ids=["process", "group"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_during_a_check(big_folder: Path, jobs: str, whole_group: bool):
    before = snapshot(big_folder)
    result = _interrupt(big_folder, ["--jobs", jobs], whole_group)
    assert result.returncode == 130
    assert result.stderr.decode().splitlines() == ["kerascheck: interrupted"]
    assert snapshot(big_folder) == before


@pytest.mark.parametrize("whole_group", [False, True], ids=["process", "group"])
def test_ctrl_c_during_fix_leaves_no_partial_file(
    tmp_path: Path, big_folder: Path, whole_group: bool
):
    folder = tmp_path / "copy"
    original = (big_folder / "pkg" / "module_000.py").read_bytes()
    fixed = original.replace(b"(lr=", b"(learning_rate=")
    write_files(folder, {f"pkg/module_{i:03}.py": original for i in range(300)})

    def some_file_fixed() -> bool:
        return (folder / "pkg" / "module_002.py").read_bytes() == fixed

    result = _interrupt(folder, ["--fix"], whole_group, wait_for=some_file_fixed)
    assert result.returncode == 130
    assert result.stderr.decode().splitlines() == ["kerascheck: interrupted"]
    names = sorted(os.listdir(folder / "pkg"))
    assert names == [f"module_{i:03}.py" for i in range(300)]  # no temporary file left
    contents = [(folder / "pkg" / name).read_bytes() for name in names]
    assert all(content in (original, fixed) for content in contents)
    assert fixed in contents and original in contents


def test_ctrl_c_during_analysis_is_not_turned_into_a_finding(monkeypatch):
    """libcst's position provider raises KeyError from a ``finally`` while a Ctrl-C
    unwinds through it; the broad handler that turns rule bugs into KC900 must not
    swallow the interrupt (it did, and the run went on)."""
    from kerascheck.engine import analysis, lint
    from kerascheck.registry import resolve_selection

    def cleanup_failing_during_ctrl_c(*args: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise KeyError("node")  # noqa: B904 (as libcst's cleanup does, replacing the interrupt)

    monkeypatch.setattr(analysis.walk, "visit_batched", cleanup_failing_during_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        lint.lint_text(GOOD.decode(), "model.py", resolve_selection())


def test_without_fix_only_the_cache_is_written(tmp_path: Path):
    """Like ruff's, the result cache is the one thing a check writes (in its own folder,
    which ignores itself); no existing file changes, and --no-cache writes nothing."""
    write_files(tmp_path, {"good.py": GOOD, "pkg/model.py": GOOD})
    before = snapshot(tmp_path)
    run("--output-format", "json", ".", cwd=tmp_path)
    after = snapshot(tmp_path)
    created = {name for name in after if name not in before}
    assert all(name.startswith(".kerascheck_cache") for name in created)
    assert {name: after[name] for name in before} == before
    assert (
        (tmp_path / ".kerascheck_cache" / ".gitignore")
        .read_text(encoding="utf-8")
        .strip()
        .endswith("*")
    )


def test_a_worker_killed_by_a_signal_costs_only_its_file(tmp_path: Path):
    """The second line of defence behind the nesting guard: a worker that dies (here by
    SIGSEGV, as a native stack overflow would) becomes one KC900 for its file."""
    write_files(tmp_path, {f"model_{i}.py": GOOD for i in range(6)})
    write_files(tmp_path, {"poison.py": GOOD})
    crash_on_poison = (
        "import signal\n"
        "import kerascheck.engine.runner as runner\n"
        "worker = runner._worker\n"
        "def crashing_worker(path, display, codes):\n"
        "    if path.endswith('poison.py'):\n"
        "        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    return worker(path, display, codes)\n"
        "runner._worker = crashing_worker\n"
    )
    result = run_wrapped(crash_on_poison, "--jobs", "2", ".", cwd=tmp_path)
    assert result.returncode == 1
    found = summary(json.loads(result.stdout))
    assert [f for f in found if f[0] == "poison.py"] == [("poison.py", "KC900", 1, 1)]
    assert [f for f in found if f[0] != "poison.py"] == [
        (f"model_{i}.py", "KC006", 2, 28) for i in range(6)
    ]


STDIN_FIX_CASES = {
    # input: the source --fix prints, byte for byte (and what it must not print instead)
    "crlf": (GOOD.replace(b"\n", b"\r\n"), GOOD_FIXED.replace(b"\n", b"\r\n")),
    "cr_only": (GOOD.replace(b"\n", b"\r"), GOOD_FIXED.replace(b"\n", b"\r")),
    "bom": (b"\xef\xbb\xbf" + GOOD, b"\xef\xbb\xbf" + GOOD_FIXED),
    "latin1_cookie": (
        b"# coding: latin-1\n" + GOOD + b"s = '\xe9'\n",
        b"# coding: latin-1\n" + GOOD_FIXED + b"s = '\xe9'\n",
    ),
    "no_final_newline": (GOOD.rstrip(b"\n"), GOOD_FIXED.rstrip(b"\n")),
    "undecodable": (HEADER.encode() + b"s = '\xe9'\n", HEADER.encode() + b"s = '\xe9'\n"),
    "nul": (HEADER.encode() + b"\x00", HEADER.encode() + b"\x00"),
}


@pytest.mark.parametrize("name", sorted(STDIN_FIX_CASES))
def test_stdin_fix_prints_the_source_byte_for_byte(tmp_path: Path, name: str):
    """Editors replace their buffer with what `--fix -` prints: the input's encoding, BOM
    and line endings must survive, and an unfixable input must come back unchanged (an
    undecodable one came back as the KC900 message)."""
    given, expected = STDIN_FIX_CASES[name]
    result = run(
        "--fix", "--no-cache", "--stdin-filename", "model.py", "-", cwd=tmp_path, stdin=given
    )
    assert result.stdout == expected


FIXTURES = Path(__file__).parent / "fixtures"
ENDINGS = {
    "crlf": lambda data: data.replace(b"\n", b"\r\n"),
    "cr": lambda data: data.replace(b"\n", b"\r"),
    "bom": lambda data: b"\xef\xbb\xbf" + data,
}


def test_fixes_do_not_depend_on_line_endings_or_bom(tmp_path: Path):
    """Every fixture, fixed with --unsafe-fixes as LF, CRLF, CR and with a BOM: the same
    result in each file's own line endings (a multi-line KC005 fix wrote "\\r\\r\\n")."""
    fixtures = sorted(FIXTURES.glob("*.py"))
    for fixture in fixtures:
        write_files(tmp_path, {f"lf/{fixture.name}": fixture.read_bytes()})
        for name, convert in ENDINGS.items():
            write_files(tmp_path, {f"{name}/{fixture.name}": convert(fixture.read_bytes())})
    result = run(
        "--fix",
        "--unsafe-fixes",
        "--no-cache",
        "--output-format",
        "json",
        ".",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode in (0, 1)
    for fixture in fixtures:
        fixed = (tmp_path / "lf" / fixture.name).read_bytes()
        for name, convert in ENDINGS.items():
            assert (tmp_path / name / fixture.name).read_bytes() == convert(fixed), (
                name,
                fixture.name,
            )
