"""``kerascheck server``: a language server on stdio, built on pygls 2 and lsprotocol.

Findings come from the editor's buffer, linted by the same engine as ``check`` with the
settings of the nearest ``pyproject.toml``. They are published when a document is opened or
saved and after a short pause in typing, and cleared when it is closed. Code actions offer
each finding's fix, a ``# noqa`` comment for it, and ``source.fixAll.kerascheck`` (safe
fixes only, as ``check --fix``).

Positions: the engine's rows are 1-based and its columns count code points; they become
the position encoding negotiated with the client at the last moment (UTF-16 unless the
client prefers UTF-8 or UTF-32, which pygls chooses for us).

Notebook documents (``notebookDocument/*``) are not supported yet: the server does not
advertise them, and notebook cells a client sends as separate text documents are not
linted, because one cell alone lacks the imports made in the cells before it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple
from urllib.parse import urlparse

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from . import __version__
from .config import CliOverrides, ConfigError, SettingsResolver
from .diagnostics import UNANALYZABLE_CODE, Applicability, Diagnostic, Edit, Fix, Position
from .engine.incremental import IncrementalParser
from .engine.lint import lint_text
from .engine.sources import newline_of
from .engine.suppression import noqa_edit
from .fixes import fix_python_text
from .output.lsp import to_lsp_diagnostic, utf16_column

# Long enough to skip the intermediate states of a word being typed, short enough that a
# finding follows the keyboard (the latency benchmark's budget is 200 ms in all).
DEBOUNCE_SECONDS = 0.05
FIX_ALL_KIND = "source.fixAll.kerascheck"
PYTHON_SUFFIXES = (".py", ".pyi")
# Notebook cells and other virtual documents come with their own URI schemes.
LINTED_SCHEMES = ("file", "untitled")
CONFIG_FILE_NAME = "pyproject.toml"

_converter = get_converter()


def _lines(text: str) -> List[str]:
    # LSP ends a line at "\n", "\r\n" or "\r" (and at nothing else, unlike str.splitlines).
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass
class Findings:
    """What the engine found in one text of a document."""

    text: str
    diagnostics: List[Diagnostic]

    @cached_property
    def lines(self) -> List[str]:
        return _lines(self.text)


class PositionConverter:
    """Engine positions (1-based row, code-point column) in the client's position encoding."""

    def __init__(self, encoding: Optional[str]) -> None:
        self.encoding = encoding or types.PositionEncodingKind.Utf16

    def character(self, line_text: str, column: int) -> int:
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(line_text[:column].encode("utf-8"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return column
        return utf16_column(line_text, column)

    def position(self, lines: Sequence[str], position: Position) -> types.Position:
        line_text = lines[position.row - 1] if 0 < position.row <= len(lines) else ""
        return types.Position(
            line=position.row - 1, character=self.character(line_text, position.column)
        )

    def range(self, lines: Sequence[str], start: Position, end: Position) -> types.Range:
        return types.Range(start=self.position(lines, start), end=self.position(lines, end))


class KerascheckServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("kerascheck", __version__)
        self._resolver: Optional[SettingsResolver] = None
        self._findings: Dict[str, Findings] = {}
        # Each open document's parser, which reuses the statements a change left alone.
        self._parsers: Dict[str, IncrementalParser] = {}
        self._pending: Dict[str, asyncio.TimerHandle] = {}
        self._config_errors_shown: Set[str] = set()

    # ---- settings --------------------------------------------------------------------

    @property
    def resolver(self) -> SettingsResolver:
        if self._resolver is None:
            root = self.workspace.root_path
            self._resolver = SettingsResolver(CliOverrides(), cwd=Path(root) if root else None)
        return self._resolver

    def reload_settings(self) -> None:
        """Forget every pyproject.toml read so far and lint the open documents again."""
        self._resolver = None
        self._findings.clear()
        self._config_errors_shown.clear()
        for document in list(self.workspace.text_documents.values()):
            if is_linted(document):
                self.publish(document)

    def codes_for(self, document: TextDocument) -> Sequence[str]:
        if _scheme(document.uri) != "file":
            return self.resolver.default_settings().codes
        path = Path(document.path)
        try:
            return self.resolver.for_path(path).codes_for(path)
        except ConfigError as error:
            # A broken pyproject.toml must not silence the editor: say so once, lint with
            # the defaults until the file changes.
            self._show_config_error(str(error))
            return self.resolver.default_settings().codes

    def _show_config_error(self, message: str) -> None:
        if message in self._config_errors_shown:
            return
        self._config_errors_shown.add(message)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error, message=f"kerascheck: {message}; using the defaults"
            )
        )

    # ---- diagnostics -----------------------------------------------------------------

    def findings(self, document: TextDocument) -> Findings:
        """The one place a document becomes diagnostics (cached per text)."""
        text = document.source
        cached = self._findings.get(document.uri)
        if cached is not None and cached.text == text:
            return cached
        found = Findings(text, self.lint(document, text))
        self._findings[document.uri] = found
        return found

    def lint(self, document: TextDocument, text: str) -> List[Diagnostic]:
        # The buffer is already text (decoding is the editor's job), so the engine is
        # entered after the step that decodes files' bytes.
        parser = self._parsers.setdefault(document.uri, IncrementalParser())
        return lint_text(text, document.path or document.uri, self.codes_for(document), incremental=parser)

    @property
    def positions(self) -> PositionConverter:
        return PositionConverter(self.workspace.position_encoding)

    def to_lsp(self, diagnostic: Diagnostic, lines: Sequence[str]) -> types.Diagnostic:
        converted = _converter.structure(to_lsp_diagnostic(diagnostic), types.Diagnostic)
        # The range again, from the buffer's lines: in the negotiated encoding (the format's
        # is UTF-16), and also for findings that carry no line text (a syntax error).
        converted.range = self.positions.range(lines, diagnostic.start, diagnostic.end)
        return converted

    def publish(self, document: TextDocument) -> None:
        self._cancel_pending(document.uri)
        found = self.findings(document)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=document.uri,
                version=document.version,
                diagnostics=[self.to_lsp(d, found.lines) for d in found.diagnostics],
            )
        )

    def publish_soon(self, uri: str) -> None:
        """Publish after a pause in typing: each change restarts the wait."""
        self._cancel_pending(uri)
        self._pending[uri] = asyncio.get_running_loop().call_later(
            DEBOUNCE_SECONDS, self._publish_if_open, uri
        )

    def _publish_if_open(self, uri: str) -> None:
        self._pending.pop(uri, None)
        document = self.workspace.text_documents.get(uri)
        if document is not None:
            self.publish(document)

    def clear(self, uri: str) -> None:
        self._cancel_pending(uri)
        self._findings.pop(uri, None)
        self._parsers.pop(uri, None)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def _cancel_pending(self, uri: str) -> None:
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()

    # ---- code actions ----------------------------------------------------------------

    def code_actions(
        self, document: TextDocument, params: types.CodeActionParams
    ) -> List[types.CodeAction]:
        found = self.findings(document)
        only = params.context.only
        actions: List[types.CodeAction] = []
        if _wanted(types.CodeActionKind.QuickFix, only):
            actions.extend(self._quick_fixes(document.uri, found, params.range))
        if _wanted(FIX_ALL_KIND, only) and _fix_all_asked(params.context):
            fix_all = self._fix_all(document, found)
            if fix_all is not None:
                actions.append(fix_all)
        return actions

    def _quick_fixes(
        self, uri: str, found: Findings, wanted_range: types.Range
    ) -> List[types.CodeAction]:
        actions: List[types.CodeAction] = []
        suppressed: Set[Tuple[int, str]] = set()
        for diagnostic in found.diagnostics:
            lsp_diagnostic = self.to_lsp(diagnostic, found.lines)
            if not _overlaps(lsp_diagnostic.range, wanted_range):
                continue
            if diagnostic.fix is not None:
                actions.append(self._fix_action(uri, diagnostic.fix, lsp_diagnostic, found))
            # A file that does not parse needs repairing, not silencing.
            key = (diagnostic.start.row, diagnostic.code)
            if diagnostic.code != UNANALYZABLE_CODE and key not in suppressed:
                suppressed.add(key)
                actions.append(self._noqa_action(uri, diagnostic, lsp_diagnostic, found))
        return actions

    def _fix_action(
        self, uri: str, fix: Fix, lsp_diagnostic: types.Diagnostic, found: Findings
    ) -> types.CodeAction:
        safe = fix.applicability is Applicability.SAFE
        return types.CodeAction(
            title=f"kerascheck: {fix.message}" + ("" if safe else " (unsafe fix)"),
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[lsp_diagnostic],
            is_preferred=safe,
            edit=_workspace_edit(uri, self._text_edits(fix.edits, found)),
        )

    def _noqa_action(
        self, uri: str, diagnostic: Diagnostic, lsp_diagnostic: types.Diagnostic, found: Findings
    ) -> types.CodeAction:
        edit = noqa_edit(found.text, diagnostic.start.row, diagnostic.code)
        return types.CodeAction(
            title=f"kerascheck: suppress with `# noqa: {diagnostic.code}`",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[lsp_diagnostic],
            edit=_workspace_edit(uri, self._text_edits([edit], found)),
        )

    def _fix_all(self, document: TextDocument, found: Findings) -> Optional[types.CodeAction]:
        if not any(d.fix and d.fix.applicability is Applicability.SAFE for d in found.diagnostics):
            return None
        newline = newline_of(found.text)
        outcome = fix_python_text(
            found.text, lambda text: self.lint(document, text), unsafe=False, newline=newline
        )
        if outcome.text == found.text:
            return None
        # The fixed text has the file's line endings already.
        change = _replacement(found.text, outcome.text)
        text_edit = types.TextEdit(
            range=self.positions.range(found.lines, change.start, change.end),
            new_text=change.content,
        )
        return types.CodeAction(
            title="kerascheck: fix all safely fixable problems",
            kind=FIX_ALL_KIND,
            edit=_workspace_edit(document.uri, [text_edit]),
        )

    def _text_edits(self, edits: Sequence[Edit], found: Findings) -> List[types.TextEdit]:
        """A rule's edits for the client; the lines they insert end as the file's do."""
        newline = newline_of(found.text)
        return [
            types.TextEdit(
                range=self.positions.range(found.lines, edit.start, edit.end),
                new_text=edit.content.replace("\n", newline),
            )
            for edit in edits
        ]


def _workspace_edit(uri: str, edits: List[types.TextEdit]) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(changes={uri: edits})


def _scheme(uri: str) -> str:
    return urlparse(uri).scheme


def is_linted(document: TextDocument) -> bool:
    if _scheme(document.uri) not in LINTED_SCHEMES:
        return False
    return document.language_id == "python" or (document.path or "").endswith(PYTHON_SUFFIXES)


def _is_config(uri: str) -> bool:
    return urlparse(uri).path.endswith("/" + CONFIG_FILE_NAME)


def _wanted(kind: str, only: Optional[Sequence[str]]) -> bool:
    """Whether a code action of ``kind`` passes the client's ``only`` filter (by prefix)."""
    return only is None or any(kind == o or kind.startswith(o + ".") for o in only)


def _fix_all_asked(context: types.CodeActionContext) -> bool:
    # Fixing the whole file lints it again: not on every cursor move (automatic requests),
    # only when a user or a save hook asks for it.
    return context.only is not None or context.trigger_kind == types.CodeActionTriggerKind.Invoked


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(position: types.Position) -> Tuple[int, int]:
        return (position.line, position.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _replacement(old: str, new: str) -> Edit:
    """One edit turning ``old`` into ``new``, spanning only what differs, so the editor keeps
    the cursor and folds of the untouched parts."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    common_end = 0
    while common_end < limit - start and old[-1 - common_end] == new[-1 - common_end]:
        common_end += 1
    # Never cut between "\r" and "\n": either alone also ends a line.
    if start and old[start - 1] == "\r":
        start -= 1
    if common_end and old[len(old) - common_end] == "\n":
        common_end -= 1
    end = len(old) - common_end
    return Edit(
        _position_at(old, start), _position_at(old, end), new[start : len(new) - common_end]
    )


def _position_at(text: str, offset: int) -> Position:
    before = _lines(text[:offset])
    return Position(len(before), len(before[-1]))


# ---- handlers ----------------------------------------------------------------------------


def did_open(ls: KerascheckServer, params: types.DidOpenTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    if is_linted(document):
        ls.publish(document)


def did_change(ls: KerascheckServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    if is_linted(document):
        ls.publish_soon(document.uri)


def did_save(ls: KerascheckServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if _is_config(uri):
        ls.reload_settings()
        return
    document = ls.workspace.get_text_document(uri)
    if is_linted(document):
        ls.publish(document)


def did_close(ls: KerascheckServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.clear(params.text_document.uri)


def did_change_watched_files(
    ls: KerascheckServer, params: types.DidChangeWatchedFilesParams
) -> None:
    if any(_is_config(change.uri) for change in params.changes):
        ls.reload_settings()


def initialized(ls: KerascheckServer, params: types.InitializedParams) -> None:
    """Ask the client to report changes to any pyproject.toml (when it can)."""
    if not get_capability(
        ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False
    ):
        return
    watcher = types.FileSystemWatcher(glob_pattern=f"**/{CONFIG_FILE_NAME}")
    ls.client_register_capability(
        types.RegistrationParams(
            registrations=[
                types.Registration(
                    id="kerascheck-config-watcher",
                    method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=types.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[watcher]
                    ),
                )
            ]
        )
    )


def code_action(
    ls: KerascheckServer, params: types.CodeActionParams
) -> Optional[List[types.CodeAction]]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    if not is_linted(document):
        return None
    return ls.code_actions(document, params)


def create_server() -> KerascheckServer:
    server = KerascheckServer()
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE)(did_save)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND],
        ),
    )(code_action)
    return server


def serve() -> None:
    """Run the language server on stdin/stdout until the client says exit."""
    # The CLI loads libcst and the rules only for a file it parses; an editor should not
    # wait for that on the first file it opens.
    from .engine import analysis  # noqa: F401
    from .registry import all_rules

    all_rules()
    create_server().start_io()
