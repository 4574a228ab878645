"""End-to-end tests of ``kerascheck server``: the real server in a subprocess, driven by
pytest-lsp's client as an editor would drive it.

One server serves the whole module (starting one costs about a second); each test uses
documents of its own and closes them, so no test sees another's diagnostics.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import List, Optional, Sequence

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from kerascheck.config import CliOverrides, SettingsResolver
from kerascheck.diagnostics import Applicability, Position
from kerascheck.engine.lint import lint_text
from kerascheck.fixes import fix_python_text
from kerascheck.registry import all_rules
from kerascheck.server import PositionConverter

# The async tests share the module's event loop, where the module's server runs.
on_module_loop = pytest.mark.asyncio(loop_scope="module")

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "kerascheck", "server"])
PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
# Far above what a publish takes; only reached when the server never answers.
TIMEOUT_SECONDS = 20

KC006_TEXT = "from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n"
# The rocket is one code point but two UTF-16 code units: `lr=0.1` starts at code-point
# column 40, UTF-16 column 41, UTF-8 byte 43.
EMOJI_LINE = 'label = "🚀"; opt = keras.optimizers.SGD(lr=0.1)'
EMOJI_TEXT = f"from tensorflow import keras\n{EMOJI_LINE}\n"
# A Keras training script with a syntax error (its alias and `.fit(` make it worth parsing).
BROKEN_TEXT = "import keras\nmodel = keras.Sequential([)\ncopy = model\ncopy.fit(x, y)\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def registrations() -> List[types.Registration]:
    """What the server asked the client to register (as VS Code does, the client accepts)."""
    return []


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(
    lsp_client: LanguageClient, workspace: Path, registrations: List[types.Registration]
):
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


# ---- helpers -----------------------------------------------------------------------------


async def published(client: LanguageClient, uri: str) -> types.PublishDiagnosticsParams:
    """The next diagnostics the server publishes for ``uri``.

    Call it right after sending the notification that triggers them: nothing can arrive
    before the wait starts, since the client only reads the server's output while awaiting.
    """

    async def next_for_uri() -> types.PublishDiagnosticsParams:
        while True:
            params = await client.wait_for_notification(PUBLISH)
            if params.uri == uri:
                return params

    return await asyncio.wait_for(next_for_uri(), TIMEOUT_SECONDS)


def document_uri(workspace: Path, name: str) -> str:
    return (workspace / name).as_uri()


async def open_document(
    client: LanguageClient, uri: str, text: str
) -> types.PublishDiagnosticsParams:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return await published(client, uri)


async def change_document(
    client: LanguageClient, uri: str, version: int, change: types.TextDocumentContentChangeEvent
) -> types.PublishDiagnosticsParams:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[change],
        )
    )
    return await published(client, uri)


async def replace_text(
    client: LanguageClient, uri: str, version: int, text: str
) -> types.PublishDiagnosticsParams:
    return await change_document(
        client, uri, version, types.TextDocumentContentChangeWholeDocument(text=text)
    )


async def close_document(client: LanguageClient, uri: str) -> types.PublishDiagnosticsParams:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return await published(client, uri)


async def code_actions(
    client: LanguageClient,
    uri: str,
    where: types.Range,
    only: Optional[Sequence[str]] = None,
) -> List[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=where,
            context=types.CodeActionContext(
                diagnostics=[],
                only=list(only) if only is not None else None,
                trigger_kind=types.CodeActionTriggerKind.Invoked,
            ),
        )
    )
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


def whole(text: str) -> types.Range:
    return types.Range(
        start=types.Position(line=0, character=0),
        end=types.Position(line=text.count("\n") + 1, character=0),
    )


def apply_action(text: str, uri: str, action: types.CodeAction) -> str:
    """What an editor does with the action's edit (positions in UTF-16 code units)."""
    assert action.edit is not None and action.edit.changes is not None
    edits = sorted(
        action.edit.changes[uri],
        key=lambda e: (e.range.start.line, e.range.start.character),
        reverse=True,
    )
    for edit in edits:
        start, end = _offset(text, edit.range.start), _offset(text, edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text


def _offset(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[: position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    units = 0
    for index, char in enumerate(line):
        if units >= position.character:
            return offset + index
        units += 2 if ord(char) > 0xFFFF else 1
    return offset + len(line)


def safe_fixed(text: str, path: str) -> str:
    """What ``kerascheck check --fix`` makes of ``text`` with the default settings."""
    codes = SettingsResolver(CliOverrides()).default_settings().codes
    return fix_python_text(text, lambda t: lint_text(t, path, codes), unsafe=False).text


# ---- diagnostics -------------------------------------------------------------------------


@on_module_loop
async def test_open_publishes_findings_of_the_buffer_in_utf16(
    client: LanguageClient, workspace: Path
):
    path = workspace / "emoji.py"
    # The file on disk is clean: findings must come from the editor's buffer.
    path.write_text("from tensorflow import keras\n", encoding="utf-8")
    uri = path.as_uri()

    result = await open_document(client, uri, EMOJI_TEXT)

    assert result.version == 1
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "KC006"
    assert diagnostic.source == "kerascheck"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href.endswith("KC006.md")
    assert "learning_rate" in diagnostic.message
    assert diagnostic.range == types.Range(
        start=types.Position(line=1, character=41), end=types.Position(line=1, character=47)
    )
    await close_document(client, uri)


@on_module_loop
async def test_change_replaces_findings(client: LanguageClient, workspace: Path):
    uri = document_uri(workspace, "change.py")
    await open_document(client, uri, EMOJI_TEXT)

    # An incremental edit after the emoji: `lr` (UTF-16 columns 41-43) -> `learning_rate`.
    rename = types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=1, character=41), end=types.Position(line=1, character=43)
        ),
        text="learning_rate",
    )
    fixed = await change_document(client, uri, 2, rename)
    assert fixed.version == 2
    assert list(fixed.diagnostics) == []

    twice = await replace_text(
        client, uri, 3, KC006_TEXT + "opt2 = keras.optimizers.Adam(lr=1e-3)\n"
    )
    assert [(d.code, d.range.start.line) for d in twice.diagnostics] == [("KC006", 1), ("KC006", 2)]
    await close_document(client, uri)


@on_module_loop
async def test_close_clears_findings(client: LanguageClient, workspace: Path):
    uri = document_uri(workspace, "close.py")
    opened = await open_document(client, uri, KC006_TEXT)
    assert len(opened.diagnostics) == 1

    closed = await close_document(client, uri)

    assert list(closed.diagnostics) == []


@on_module_loop
async def test_broken_file_gives_kc900_and_the_server_keeps_serving(
    client: LanguageClient, workspace: Path
):
    broken_uri = document_uri(workspace, "broken.py")
    broken = await open_document(client, broken_uri, BROKEN_TEXT)

    [diagnostic] = broken.diagnostics
    assert diagnostic.code == "KC900"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.range.start.line == 1
    # A file that does not parse is repaired, not silenced: no code action for it.
    assert await code_actions(client, broken_uri, diagnostic.range) == []

    other_uri = document_uri(workspace, "after_broken.py")
    other = await open_document(client, other_uri, KC006_TEXT)
    assert [d.code for d in other.diagnostics] == ["KC006"]
    repaired = await replace_text(
        client, broken_uri, 2, "import keras\nmodel = keras.Sequential([])\n"
    )
    assert list(repaired.diagnostics) == []
    await close_document(client, broken_uri)
    await close_document(client, other_uri)


@on_module_loop
async def test_settings_follow_pyproject_changes(
    client: LanguageClient, workspace: Path, registrations: List[types.Registration]
):
    [watch] = [r for r in registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert "pyproject.toml" in str(watch.register_options)
    project = workspace / "project"
    project.mkdir()
    uri = (project / "train.py").as_uri()
    assert len((await open_document(client, uri, KC006_TEXT)).diagnostics) == 1

    config = project / "pyproject.toml"
    config.write_text('[tool.kerascheck]\nignore = ["KC006"]\n', encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Created)]
        )
    )

    assert list((await published(client, uri)).diagnostics) == []
    await close_document(client, uri)


# ---- code actions ------------------------------------------------------------------------


@on_module_loop
async def test_quick_fix_round_trips(client: LanguageClient, workspace: Path):
    uri = document_uri(workspace, "quickfix.py")
    [diagnostic] = (await open_document(client, uri, EMOJI_TEXT)).diagnostics

    actions = await code_actions(client, uri, diagnostic.range)
    [fix] = [a for a in actions if a.is_preferred]

    assert fix.kind == types.CodeActionKind.QuickFix
    assert [d.code for d in fix.diagnostics or []] == ["KC006"]
    fixed_text = apply_action(EMOJI_TEXT, uri, fix)
    assert fixed_text == EMOJI_TEXT.replace("SGD(lr=", "SGD(learning_rate=")
    assert list((await replace_text(client, uri, 2, fixed_text)).diagnostics) == []
    await close_document(client, uri)


@pytest.mark.parametrize(
    "line, suppressed",
    [
        (
            "opt = keras.optimizers.SGD(lr=0.1)   ",
            "opt = keras.optimizers.SGD(lr=0.1)  # noqa: KC006",
        ),
        (
            "opt = keras.optimizers.SGD(lr=0.1)  # noqa: E501",
            "opt = keras.optimizers.SGD(lr=0.1)  # noqa: E501, KC006",
        ),
    ],
    ids=["append", "extend"],
)
@on_module_loop
async def test_noqa_action_suppresses_the_finding(
    client: LanguageClient, workspace: Path, line: str, suppressed: str
):
    uri = document_uri(workspace, "noqa.py")
    text = f"from tensorflow import keras\n{line}\n"
    [diagnostic] = (await open_document(client, uri, text)).diagnostics

    actions = await code_actions(client, uri, diagnostic.range, only=["quickfix"])
    [noqa] = [a for a in actions if "noqa" in a.title]

    assert not noqa.is_preferred
    new_text = apply_action(text, uri, noqa)
    assert new_text == f"from tensorflow import keras\n{suppressed}\n"
    assert list((await replace_text(client, uri, 2, new_text)).diagnostics) == []
    await close_document(client, uri)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@on_module_loop
async def test_fix_all_applies_safe_fixes_as_check_fix_does(
    client: LanguageClient, workspace: Path, newline: str
):
    uri = document_uri(workspace, "fix_all.py")
    text = newline.join(
        [
            "from tensorflow import keras",
            EMOJI_LINE,
            "model.compile(optimizer=keras.optimizers.Adam(lr=1e-3), loss='mse')",
            "",
        ]
    )
    await open_document(client, uri, text)

    [fix_all] = await code_actions(client, uri, whole(text), only=["source.fixAll"])

    assert fix_all.kind == "source.fixAll.kerascheck"
    fixed_text = apply_action(text, uri, fix_all)
    assert fixed_text == safe_fixed(text, "fix_all.py")
    assert fixed_text.count("learning_rate=") == 2
    await close_document(client, uri)


def _unsafe_fix_examples() -> List[pytest.param]:
    """For each rule with an unsafe fix, its first INVALID snippet that shows one."""
    examples = []
    for rule in all_rules():
        for invalid in getattr(rule, "INVALID", []):
            code = textwrap.dedent(invalid.code)
            found = lint_text(code, "example.py", [rule.code])
            if any(d.fix and d.fix.applicability is Applicability.UNSAFE for d in found):
                examples.append(pytest.param(code, id=rule.code))
                break
    return examples


UNSAFE_FIX_EXAMPLES = _unsafe_fix_examples()
# Appended to each example, so that fixAll has a safe fix to apply next to the unsafe one.
SAFE_FIX_TAIL = (
    "\nfrom tensorflow import keras as tail_keras\ntail = tail_keras.optimizers.SGD(lr=0.1)\n"
)


@pytest.mark.skipif(not UNSAFE_FIX_EXAMPLES, reason="no registered rule has an unsafe fix yet")
@pytest.mark.parametrize("example", UNSAFE_FIX_EXAMPLES or [""])
@on_module_loop
async def test_fix_all_leaves_unsafe_fixes_alone(
    client: LanguageClient, workspace: Path, example: str
):
    uri = document_uri(workspace, "unsafe.py")
    text = example + SAFE_FIX_TAIL
    opened = await open_document(client, uri, text)
    unsafe_codes = {
        d.code
        for d in opened.diagnostics
        if d.data and d.data["fix"] and d.data["fix"]["applicability"] == "unsafe"
    }
    assert unsafe_codes

    [fix_all] = await code_actions(client, uri, whole(text), only=["source.fixAll"])

    fixed_text = apply_action(text, uri, fix_all)
    assert fixed_text == safe_fixed(text, "unsafe.py")
    assert fixed_text.endswith("tail_keras.optimizers.SGD(learning_rate=0.1)\n")
    still_there = (await replace_text(client, uri, 2, fixed_text)).diagnostics
    assert unsafe_codes <= {d.code for d in still_there}
    await close_document(client, uri)


# ---- position encodings ------------------------------------------------------------------


@on_module_loop
async def test_positions_follow_the_negotiated_encoding(workspace: Path):
    client = await SERVER.start()
    try:
        # Neovim 0.11 prefers UTF-8, so a rocket counts four.
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim@v0.11.0"), root_uri=workspace.as_uri()
            )
        )
        assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        uri = document_uri(workspace, "encoding.py")
        [diagnostic] = (await open_document(client, uri, EMOJI_TEXT)).diagnostics
        assert diagnostic.range.start == types.Position(line=1, character=43)
        await client.shutdown_session()
    finally:
        await client.stop()


@pytest.mark.parametrize(
    "encoding, character",
    [
        (types.PositionEncodingKind.Utf16, 41),
        (types.PositionEncodingKind.Utf8, 43),
        (types.PositionEncodingKind.Utf32, 40),
    ],
)
def test_position_converter_counts_in_each_encoding(encoding: str, character: int):
    lines = ["from tensorflow import keras", EMOJI_LINE]
    position = PositionConverter(encoding).position(lines, Position(row=2, column=40))
    assert position == types.Position(line=1, character=character)
