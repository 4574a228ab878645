"""Output formats: each module turns the same sorted diagnostics into text.

``render(fmt, diagnostics, options)`` is the one entry point. Every format receives the
diagnostics sorted by path, cell, row and column, and converts positions from the internal
form (1-based rows, 0-based code-point columns, rows within the cell for notebooks) to its
own units; :mod:`.common` holds the conversions.

The returned text is complete: it ends with a newline unless it is empty (``concise`` and
``github`` print nothing when there is nothing to report), so callers write it as is, and
any UTF-8 stream can write it: a file name that is not UTF-8 is percent-encoded in URIs,
escaped by JSON, and shown with ``\\xff`` escapes by the text formats.
"""

from __future__ import annotations

import importlib
from typing import Sequence

from ..diagnostics import Diagnostic, sort_diagnostics
from .common import OutputOptions
from .lsp import to_lsp_diagnostic, utf16_column

FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif", "lsp")

# Each format's module, imported only when it is used: ``full`` loads rich, ``sarif`` the
# rules' documentation (and with it libcst), which a run printing ``concise`` never needs.
_MODULES = {
    "full": "full",
    "concise": "concise",
    "json": "json_format",
    "json-lines": "json_lines",
    "github": "github",
    "sarif": "sarif",
    "lsp": "lsp",
}

__all__ = ["FORMATS", "OutputOptions", "load_all", "render", "to_lsp_diagnostic", "utf16_column"]


def render(fmt: str, diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    """The text of ``diagnostics`` in the output format ``fmt`` (one of :data:`FORMATS`)."""
    try:
        module = _MODULES[fmt]
    except KeyError:
        expected = ", ".join(FORMATS)
        raise ValueError(f"unknown output format {fmt!r}; expected one of {expected}") from None
    renderer = importlib.import_module(f"{__name__}.{module}").render
    return renderer(sort_diagnostics(list(diagnostics)), options)


def load_all() -> None:
    """Import every format now: a long-lived process (the daemon) pays once, up front."""
    for module in _MODULES.values():
        importlib.import_module(f"{__name__}.{module}")
