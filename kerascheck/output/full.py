"""``full`` (the default): each finding with its source line, a caret under the span, the
rule's name and help, then a closing summary.

    train.py:12:5: KC006 [*] [optimizer-lr-argument] `SGD(lr=...)` ...
       |
    12 | opt = keras.optimizers.SGD(lr=0.5)
       |                            ^^^^^^
       = help: ...
       = fix available: Rename `lr` to `learning_rate`

    Found 1 problem (1 fixable with --fix).

Columns in the header are 1-based code points; notebook findings read
``nb.ipynb:cell 5:3:5:`` with the row counted within the cell. The caret is placed by
terminal cells (an emoji or a CJK character is two cells wide, a tab four), and a range over
several lines is underlined to the end of its first line. ``[*]`` marks a finding whose fix
``--fix`` applies (unsafe fixes only with ``--unsafe-fixes``). Colors are used only when
``options.color`` says the output is a terminal; otherwise the text has no ANSI codes.
"""

from __future__ import annotations

import io
from typing import List, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from ..diagnostics import Diagnostic, Severity
from .common import OutputOptions, has_hidden_fix, is_fixable, text_location

TAB_SIZE = 4


def _severity_style(diagnostic: Diagnostic) -> str:
    return "bold red" if diagnostic.severity is Severity.ERROR else "bold yellow"


def _cells(text: str) -> int:
    return cell_len(text.expandtabs(TAB_SIZE))


def _header(diagnostic: Diagnostic, options: OutputOptions) -> Text:
    fixable = options.show_fix_hints and is_fixable(diagnostic, options.unsafe_fixes)
    return Text.assemble(
        (text_location(diagnostic), "bold"),
        ": ",
        (diagnostic.code, _severity_style(diagnostic)),
        " ",
        ("[*] " if fixable else "", "cyan"),
        (f"[{diagnostic.name}]", "dim"),
        " ",
        diagnostic.message,
    )


def _snippet(diagnostic: Diagnostic, line: str, gutter: str) -> List[Text]:
    """The flagged line with its row number, and the caret line under the span."""
    start = diagnostic.start.column
    end = diagnostic.end.column if diagnostic.end.row == diagnostic.start.row else len(line)
    padding = _cells(line[:start])
    carets = max(1, _cells(line[:end]) - padding)
    blank = " " * len(gutter)
    return [
        Text(f"{blank} |", "blue"),
        Text.assemble((f"{gutter} | ", "blue"), line.expandtabs(TAB_SIZE)),
        Text.assemble(
            (f"{blank} | ", "blue"), " " * padding, ("^" * carets, _severity_style(diagnostic))
        ),
    ]


def _note(blank: str, label: str, text: str) -> Text:
    return Text.assemble((f"{blank} = ", "blue"), (label, "bold cyan"), f": {text}")


def _notes(diagnostic: Diagnostic, options: OutputOptions, blank: str) -> List[Text]:
    notes: List[Text] = []
    if diagnostic.help:
        notes.append(_note(blank, "help", diagnostic.help))
    fix = diagnostic.fix
    if fix is not None and options.show_fix_hints:
        if is_fixable(diagnostic, options.unsafe_fixes):
            notes.append(_note(blank, "fix available", fix.message))
        else:
            notes.append(_note(blank, "unsafe fix available with --unsafe-fixes", fix.message))
    return notes


def _block(diagnostic: Diagnostic, options: OutputOptions) -> List[Text]:
    gutter = str(diagnostic.start.row)
    lines = [_header(diagnostic, options)]
    if diagnostic.source_line is not None:  # an unreadable file has no line to show
        lines += _snippet(diagnostic, diagnostic.source_line, gutter)
    lines += _notes(diagnostic, options, " " * len(gutter))
    return lines


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def summary(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> List[str]:
    """The closing lines: ``Found N problems (M fixable with --fix).`` and, when unsafe
    fixes are not enabled, how many more ``--unsafe-fixes`` would enable."""
    if not diagnostics:
        checked = f" ({_plural(options.files_checked, 'file', 'files')} checked)"
        return ["All checks passed!" + (checked if options.files_checked else "")]
    found = f"Found {_plural(len(diagnostics), 'problem', 'problems')}"
    if not options.show_fix_hints:
        return [found + "."]
    fixable = sum(is_fixable(d, options.unsafe_fixes) for d in diagnostics)
    hidden = sum(has_hidden_fix(d, options.unsafe_fixes) for d in diagnostics)
    lines = [found + (f" ({fixable} fixable with --fix)." if fixable else ".")]
    if hidden:
        can = _plural(hidden, "hidden fix", "hidden fixes")
        lines.append(f"({can} can be enabled with the `--unsafe-fixes` option.)")
    return lines


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=options.color,
        color_system="auto" if options.color else None,
        highlight=False,
        emoji=False,
        markup=False,
    )
    for diagnostic in diagnostics:
        for line in _block(diagnostic, options):
            console.print(line, soft_wrap=True)
        console.print()
    for line in summary(diagnostics, options):
        console.print(Text(line, "bold"), soft_wrap=True)
    return buffer.getvalue()
