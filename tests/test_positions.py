"""Positions computed statement by statement are libcst's own, node for node."""

from __future__ import annotations

from typing import Iterator, Tuple

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from kerascheck.positions import NodePositions
from kerascheck.semantics import walk

from .sample_sources import project_sources

AWKWARD = {
    "header comments, decorators, no final newline": (
        "#!/usr/bin/env python\n# a header comment\n\n@decorate\n# between\n@again(1)\n"
        "def f(x):\n    '''doc\n    string'''\n    return x[:, 0]  # tail\n\n\nmodel.fit(x)"
    ),
    "identical statements (found by counting)": "model.fit(x)\nmodel = m\nmodel.fit(x)\nmodel.fit(x)\n",
    "a statement repeated in a string": 's = """\nmodel.fit(x, y)\n"""\nmodel.fit(x, y)\n',
    "continuations and semicolons": "a = (1,\n     2); b = \\\n  3\nif a:\n    pass\nelse: b = 4\n",
    "empty module": "",
    "only comments": "# nothing\n\n# here\n",
}


def _sources() -> Iterator[Tuple[str, str]]:
    yield from AWKWARD.items()
    yield from project_sources()


def _variants() -> Iterator[Tuple[str, str]]:
    for name, text in _sources():
        for newline, label in (("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")):
            yield f"{name} ({label})", text.replace("\n", newline)


@pytest.mark.parametrize("name,text", list(_variants()), ids=lambda value: value if len(value) < 70 else "")
def test_positions_are_libcsts(name: str, text: str):
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = NodePositions(module, text)
    nodes = list(walk.walk(module))
    # Asked for from the end first, so rows are found before the statements above are.
    for node in reversed(nodes):
        assert positions[node] == expected[node], (name, type(node).__name__, module.code_for_node(node))
