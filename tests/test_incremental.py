"""The incremental parser (used by the language server) gives what a whole parse gives:
the same code, character for character, and the same findings, for a first version and
for edited ones; and it reuses the statements that did not change."""

from __future__ import annotations

from typing import Iterator, Tuple

import libcst as cst
import pytest

from kerascheck.catalog import resolve_selection
from kerascheck.engine.incremental import IncrementalParser
from kerascheck.engine.lint import lint_text

from .sample_sources import project_sources

CODES = resolve_selection()

AWKWARD = {
    "comments between statements, in and after blocks": (
        "# header\n\nimport keras\n\n\ndef f():\n    return 1\n    # in the block\n\n# before g\n"
        "@decorate\ndef g():\n\tpass\n# the end\n"
    ),
    "semicolons across lines": "x = (1,\n2); y = (3,\n4)\nz = 5\n",
    "identical statements": "model.fit(x)\nmodel.fit(x)\nmodel = m\nmodel.fit(x)\n",
    "no final newline": "import keras\nopt = keras.optimizers.Adam(lr=0.1)",
    "two-space indentation": "def f():\n  return 1\n\n\ndef g():\n  if x:\n    return 2\n",
    "mixed indentation": "def f():\n\treturn 1\n\n\ndef g():\n    return 2\n",
    "syntax error": "import keras\ndef f(:\n    pass\n",
    "only comments": "# a\n# b\n",
}


def _sources() -> Iterator[Tuple[str, str]]:
    yield from AWKWARD.items()
    yield from project_sources()


def _variants() -> Iterator[Tuple[str, str]]:
    for name, text in _sources():
        yield f"{name} (LF)", text
        if name in AWKWARD or name.endswith(".py"):
            yield f"{name} (CRLF)", text.replace("\n", "\r\n")
        if name in AWKWARD:  # lone carriage returns: parsed whole
            yield f"{name} (CR)", text.replace("\n", "\r")


def _whole(text: str):
    try:
        return cst.parse_module(text).code
    except cst.ParserSyntaxError:
        return None


@pytest.mark.parametrize("name,text", list(_variants()), ids=lambda value: value if len(value) < 70 else "")
def test_same_code_and_findings_as_a_whole_parse(name: str, text: str):
    parser = IncrementalParser()
    edited = "# edited\n" + text
    expected = {version: lint_text(version, "t.py", CODES) for version in (text, edited)}
    # The first version, then the same text again (every chunk reused), then an edit of
    # the first statement and back (the others reused).
    for version in (text, text, edited, text):
        assert lint_text(version, "t.py", CODES, incremental=parser) == expected[version]
        whole = _whole(version)
        if whole is not None:
            assert parser.parse(version).code == whole


def test_unchanged_statements_are_reused():
    parser = IncrementalParser()
    text = "import keras\n\n\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n"
    first = parser.parse(text)
    second = parser.parse(text.replace("return 2", "return 3"))
    assert second.body[1] is first.body[1]  # f: the same node, not parsed again
    assert second.body[2] is not first.body[2]
    assert second.code == text.replace("return 2", "return 3")


def test_repeated_statements_are_distinct_nodes():
    """The analysis tells nodes apart by identity."""
    module = IncrementalParser().parse("model.fit(x)\nmodel.fit(x)\n")
    assert module.body[0] is not module.body[1]



def test_a_chunk_that_fails_to_parse_falls_back_to_the_whole_text(monkeypatch):
    """Python may accept what libcst rejects: then the whole text is parsed, so that an
    error is the whole text's, at its row, not a chunk's."""
    from kerascheck.engine import incremental

    def failing(piece: str):
        raise ValueError("libcst rejects this chunk")

    monkeypatch.setattr(incremental, "_parse_chunk", failing)
    text = "import keras\n\n\nopt = keras.optimizers.Adam(lr=0.1)\n"
    parser = IncrementalParser()
    assert parser.parse(text).code == text
    assert parser.positions_for(parser.parse(text)) is None  # a whole parse's module
    assert lint_text(text, "t.py", CODES, incremental=parser) == lint_text(text, "t.py", CODES)


@pytest.mark.parametrize(
    "pathological",
    [
        "x = 1 " + "+ 1 " * 3000 + "\n",
        "if a:\n    pass\n" + "elif a:\n    pass\n" * 3000,
    ],
    ids=["long chain", "elif chain"],
)
def test_nesting_is_refused_in_a_changed_statement_as_in_the_whole_text(pathological: str):
    """Only new chunks are measured for nesting; what they refuse is reported as the
    whole text's guard reports it (same message, row and column), before libcst sees it."""
    parser = IncrementalParser()
    before = "import keras\n\n\nopt = keras.optimizers.Adam(lr=0.1)\n\n\n"
    lint_text(before + "y = 2\n", "t.py", CODES, incremental=parser)
    text = before + pathological
    found = lint_text(text, "t.py", CODES, incremental=parser)
    assert [d.code for d in found] == ["KC900"]
    assert found == lint_text(text, "t.py", CODES)
