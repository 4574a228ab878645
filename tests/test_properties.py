"""Property tests: random valid Python programs (hypothesmith), random Keras programs built
from the patterns the rules look for, and random bytes and JSON. kerascheck never raises;
fixes parse and are idempotent; results do not depend on the number of jobs or the cache.

The engine functions are called directly for the bulk of the examples; the real command
for a few. Every test is bounded so that the whole file runs in well under a minute.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerascheck.config import CliOverrides, SettingsResolver
from kerascheck.diagnostics import UNANALYZABLE_CODE, Diagnostic
from kerascheck.engine.discovery import discover
from kerascheck.engine.analysis import RECURSION_LIMIT
from kerascheck.engine.lint import lint_text
from kerascheck.engine.nesting import find_excess_nesting
from kerascheck.engine.runner import check_files, lint_source_bytes
from kerascheck.fixes import fix_python_text
from kerascheck.registry import all_rules

from .every_trigger import EVERY_TRIGGER

# hypothesmith compiles (never runs) what it generates; Python warns about odd code.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

with warnings.catch_warnings():  # hypothesmith imports lib2to3, deprecated on 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesmith

CODES = tuple(sorted(rule.code for rule in all_rules()))
# lint raises the limit on first use; raising it before Hypothesis starts keeps it from
# warning that the limit changed during a test.
sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
# Every rule's trigger matches it, so that the program is parsed and every rule visits it.
HEADER = EVERY_TRIGGER

# KERASCHECK_PROPERTY_SCALE=20 runs twenty times as many examples (a nightly bug hunt).
SCALE = float(os.environ.get("KERASCHECK_PROPERTY_SCALE", "1"))


def bounded(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def check_invariants(text: str, found: List[Diagnostic]) -> None:
    """What every result must satisfy: known codes, sorted, positions inside the text."""
    assert {d.code for d in found} <= set(CODES)
    keys = [(d.path, d.cell or 0, d.start.row, d.start.column, d.code) for d in found]
    assert keys == sorted(keys)
    rows = text.count("\n") + text.count("\r") + 1
    for d in found:
        assert 1 <= d.start.row <= rows and d.start <= d.end or d.code == UNANALYZABLE_CODE


def lint(text: str) -> List[Diagnostic]:
    found = lint_text(text, "generated.py", CODES)
    check_invariants(text, found)
    return found


# ---- random valid Python programs -----------------------------------------------------------


@bounded(60)
@given(hypothesmith.from_grammar())
def test_programs_from_the_grammar(source: str):
    text = HEADER + source
    found = lint(text)
    assert found == lint(text)  # deterministic
    if _python_parses(text):
        assert [d for d in found if d.code == UNANALYZABLE_CODE] == []


@bounded(40)
@given(hypothesmith.from_node())
def test_programs_from_libcst_nodes(source: str):
    text = HEADER + source
    found = lint(text)
    if _python_parses(text):
        assert [d for d in found if d.code == UNANALYZABLE_CODE] == []
    _check_fixes(text, found)


def _python_parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():  # "'int' object is not callable" and the like
            warnings.simplefilter("ignore", SyntaxWarning)
            ast.parse(text)  # parsing only: nothing is compiled to bytecode or run
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# ---- random Keras programs ------------------------------------------------------------------

IMPORTS = [
    ("import keras", "keras"),
    ("from tensorflow import keras", "keras"),
    ("import tensorflow as tf", "tf.keras"),
    ("import tf_keras", "tf_keras"),
]
NAMES = st.sampled_from(["model", "net", "m2", "alias", "clf", "base"])
UNITS = st.sampled_from(["1", "3", "10", "n"])
ACTIVATIONS = st.sampled_from(["softmax", "sigmoid", "relu", "linear"])
LOSSES = st.sampled_from(
    [
        "'mse'",
        "'categorical_crossentropy'",
        "'binary_crossentropy'",
        "K.losses.BinaryCrossentropy(from_logits=True)",
        "K.losses.SparseCategoricalCrossentropy(from_logits=True)",
    ]
)


def _statement(k: str) -> st.SearchStrategy[str]:
    """One statement (possibly several lines) using ``K`` for the Keras prefix."""
    return st.one_of(
        st.builds(
            lambda name, units, activation: (
                f"{name} = K.Sequential([K.layers.Dense({units}, activation='{activation}')])"
            ),
            NAMES,
            UNITS,
            ACTIVATIONS,
        ),
        st.builds(lambda a, b: f"{a} = {b}", NAMES, NAMES),
        st.builds(
            lambda name, opt, keyword, loss: (
                f"{name}.compile(optimizer=K.optimizers.{opt}({keyword}=0.1), loss={loss})"
            ),
            NAMES,
            st.sampled_from(["SGD", "Adam", "RMSprop"]),
            st.sampled_from(["lr", "learning_rate"]),
            LOSSES,
        ),
        st.builds(
            lambda name, epochs, shuffle: f"{name}.fit(x, y, epochs={epochs}{shuffle})",
            NAMES,
            st.sampled_from(["1", "5", "n"]),
            st.sampled_from(["", ", shuffle=False", ", shuffle=True"]),
        ),
        st.builds(
            lambda name: (
                f"{name} = K.Sequential([K.layers.LSTM(4, stateful=True, batch_input_shape=(2, 3, 1))])"
            ),
            NAMES,
        ),
        st.builds(
            lambda name: f"for epoch in range(3):\n    {name}.fit(x, y, epochs=1, shuffle=False)",
            NAMES,
        ),
        st.builds(
            lambda name: (
                f"for epoch in range(3):\n    {name}.fit(x, y, epochs=1)\n    {name}.reset_states()"
            ),
            NAMES,
        ),
        st.builds(
            lambda shape, index: (
                "inp = K.Input(shape=(2, 3))\n"
                f"out = K.layers.Lambda(lambda t: t[{index}], output_shape={shape})(inp)"
            ),
            st.sampled_from(["(3,)", "(3, 1)", "lambda s: (s[0], 3)"]),
            st.sampled_from([":, 0", ":, 0:1", "..., None"]),
        ),
        st.just(
            "def batches(data):\n"
            "    buffer = np.zeros((4, 3))\n"
            "    while True:\n"
            "        buffer[:] = next(data)\n"
            "        yield buffer"
        ),
        st.builds(
            lambda name: f"def train({name}):\n    {name}.fit(x, y, epochs=2)\n    return {name}",
            NAMES,
        ),
        st.builds(lambda name: f"train({name})", NAMES),
        st.builds(
            lambda alias, name: (
                f"for rate in [0.1, 0.01]:\n    {alias} = {name}\n"
                f"    {alias}.compile(optimizer=K.optimizers.SGD(learning_rate=rate), loss='mse')\n"
                f"    {alias}.fit(x, y, epochs=5)"
            ),
            NAMES,
            NAMES,
        ),
    ).map(lambda statement: statement.replace("K.", k + "."))


@st.composite
def keras_programs(draw) -> str:
    import_line, prefix = draw(st.sampled_from(IMPORTS))
    statements = draw(st.lists(_statement(prefix), min_size=1, max_size=12))
    return "\n".join(["import numpy as np", import_line, *statements]) + "\n"


@bounded(60)
@given(keras_programs())
def test_keras_programs(text: str):
    found = lint(text)
    assert [d for d in found if d.code == UNANALYZABLE_CODE] == [], text
    _check_fixes(text, found)


@bounded(30)
@given(keras_programs())
def test_noqa_silences_every_finding(text: str):
    silenced = "\n".join(line + "  # noqa" if line.strip() else line for line in text.split("\n"))
    assert lint(silenced) == [], silenced


@bounded(30)
@given(keras_programs(), st.sampled_from(["\r\n", "\r"]))
def test_line_endings_do_not_move_findings(text: str, newline: str):
    """Through the byte reader, as files are read: same rows and columns for any ending."""
    expected = [(d.code, d.start, d.end) for d in lint(text)]
    data = text.replace("\n", newline).encode()
    found = lint_source_bytes(data, "generated.py", CODES, notebook=False)
    assert [(d.code, d.start, d.end) for d in found] == expected


def _check_fixes(text: str, found: List[Diagnostic]) -> None:
    """Fixes (safe and unsafe) produce code that parses, and a second round changes
    nothing: what ``--fix`` promises for every file."""
    if not any(d.fix for d in found):
        return
    for unsafe in (False, True):
        outcome = fix_python_text(text, lint, unsafe=unsafe)
        assert outcome.rejected == [], [d.code for d in outcome.rejected]
        if outcome.text == text:
            continue
        if _python_parses(text):
            assert _python_parses(outcome.text), outcome.text
        again = fix_python_text(outcome.text, lint, unsafe=unsafe)
        assert again.text == outcome.text, (text, outcome.text, again.text)


# ---- random bytes and JSON ------------------------------------------------------------------


@bounded(60)
@given(st.binary(max_size=2000))
def test_random_bytes_as_python(data: bytes):
    found = lint_source_bytes(HEADER.encode() + data, "random.py", CODES, notebook=False)
    assert {d.code for d in found} <= set(CODES)


@bounded(60)
@given(st.text(max_size=2000))
def test_random_text(text: str):
    lint(HEADER + text)
    find_excess_nesting(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
CELL = st.fixed_dictionaries(
    {
        "cell_type": st.sampled_from(["code", "markdown", "raw", 7]),
        "source": st.one_of(
            st.text(max_size=200), st.lists(st.text(max_size=40), max_size=5), JSON
        ),
    },
    optional={"metadata": JSON, "outputs": JSON},
)
NOTEBOOKS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"cells": st.lists(CELL, max_size=5)},
        optional={
            "metadata": st.one_of(JSON, st.just({"kernelspec": {"language": "python"}})),
            "nbformat": JSON,
        },
    ),
)


@bounded(60)
@given(NOTEBOOKS)
def test_random_notebooks(document: object):
    data = json.dumps(document).encode()
    found = lint_source_bytes(data, "random.ipynb", CODES, notebook=True)
    assert {d.code for d in found} <= set(CODES)


# ---- the same results with any number of jobs, with and without the cache -------------------

PROGRAMS = st.lists(
    st.one_of(keras_programs(), hypothesmith.from_grammar().map(HEADER.__add__)),
    min_size=4,
    max_size=8,
)


def _write(folder: Path, programs: Sequence[str]) -> None:
    for index, text in enumerate(programs):
        (folder / f"program_{index}.py").write_text(text, encoding="utf-8")


def _check_engine(folder: Path, jobs: int, use_cache: bool) -> List[Tuple]:
    sources, _ = discover([str(folder)], SettingsResolver(CliOverrides(), cwd=folder))
    result = check_files(sources, jobs=jobs, use_cache=use_cache)
    return [(d.path, d.code, d.start, d.end, d.message, d.fix) for d in result.diagnostics]


@bounded(12)
@given(PROGRAMS)
def test_jobs_and_cache_do_not_change_results_engine(tmp_path_factory, programs: List[str]):
    folder = tmp_path_factory.mktemp("programs")
    _write(folder, programs)
    expected = _check_engine(folder, jobs=1, use_cache=False)
    assert _check_engine(folder, jobs=2, use_cache=False) == expected
    assert _check_engine(folder, jobs=2, use_cache=True) == expected  # cold
    assert _check_engine(folder, jobs=1, use_cache=True) == expected  # warm


@bounded(4)
@given(PROGRAMS)
def test_jobs_and_cache_do_not_change_results_cli(tmp_path_factory, programs: List[str]):
    folder = tmp_path_factory.mktemp("programs")
    _write(folder, programs)

    def run(*options: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "kerascheck", "check", "--output-format", "json", *options, "."],
            cwd=str(folder),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
        return result.stdout

    expected = run("--jobs", "1", "--no-cache")
    assert run("--jobs", "2", "--no-cache") == expected
    assert run("--jobs", "2") == expected  # cold cache
    assert (folder / ".kerascheck_cache").is_dir()
    assert run("--jobs", "1") == expected  # warm cache


@bounded(4)
@given(st.lists(keras_programs(), min_size=2, max_size=6), st.booleans())
def test_fix_through_the_command_is_idempotent(tmp_path_factory, programs: List[str], unsafe: bool):
    """Every fixed file parses, and a second --fix changes nothing."""
    folder = tmp_path_factory.mktemp("fix")
    _write(folder, programs)
    options = ["--fix", "--no-cache", "--output-format", "json"] + (
        ["--unsafe-fixes"] if unsafe else []
    )

    def fix() -> List[bytes]:
        result = subprocess.run(
            [sys.executable, "-m", "kerascheck", "check", *options, "."],
            cwd=str(folder),
            capture_output=True,
            timeout=120,
        )
        assert b"Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
        return [path.read_bytes() for path in sorted(folder.glob("*.py"))]

    fixed = fix()
    for data in fixed:
        assert _python_parses(data.decode()), data.decode()
    assert fix() == fixed
