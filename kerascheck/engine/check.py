"""One ``kerascheck check`` run: discovery, linting (cached, parallel), fixes, rendering.

The CLI only parses options and prints what this returns; the language server uses the
same pieces (``lint_source_bytes``, ``fix_source``) on editor buffers.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from ..config import Settings, SettingsResolver
from ..diagnostics import UNANALYZABLE_CODE, Diagnostic, sort_diagnostics
from ..fixes import FixOutcome, fix_python_text
from ..output.common import printable_path
from .discovery import SourcePath, discover
from .lint import lint_text, unanalyzable
from .runner import (
    NOTEBOOK_SUFFIX,
    Progress,
    check_files,
    lint_source_bytes,
    unanalyzable_if_enabled,
)
from .sources import SourceError, decode_python, read_bytes

if TYPE_CHECKING:  # pragma: no cover (importing it loads libcst)
    from .incremental import ParserMemory

STDIN = "-"


@dataclass(frozen=True)
class CheckRequest:
    paths: List[str]
    output_format: str = "full"
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    show_fixes: bool = False
    use_cache: bool = True
    stdin_filename: Optional[str] = None
    statistics: bool = False
    quiet: bool = False
    force_exclude: bool = False
    jobs: Optional[int] = None
    color: bool = False
    progress: bool = False
    # The parses a long-lived process (the daemon) keeps between runs.
    parsers: Optional["ParserMemory"] = None


@dataclass
class CheckOutcome:
    output: str = ""  # for stdout
    source: Optional[bytes] = None  # stdin with --fix: the fixed source, byte for byte, for stdout
    messages: List[str] = field(default_factory=list)  # for stderr
    remaining: int = 0
    failed: bool = False


@dataclass
class _FileFix:
    display: str
    fixed: List[Diagnostic]
    remaining: List[Diagnostic]
    diff: str = ""


def run_check(request: CheckRequest, resolver: SettingsResolver) -> CheckOutcome:
    outcome = CheckOutcome()
    stdin_source: Optional[bytes] = None
    if STDIN in request.paths:
        display = request.stdin_filename or STDIN
        settings = resolver.for_path(Path(display)) if request.stdin_filename else resolver.default_settings()
        data = sys.stdin.buffer.read()
        codes = settings.codes_for(Path(display))
        if request.fix or request.diff:
            result = _fix_bytes(data, display, codes, request)
            found, fixed = result.remaining, result.fixed
            if request.fix and not request.diff:  # unfixable input goes back unchanged
                stdin_source = data if result.new_bytes is None else result.new_bytes
            diff_texts = [result.diff] if result.diff else []
        else:
            found, fixed, diff_texts = lint_source_bytes(data, display, codes, display.endswith(NOTEBOOK_SUFFIX)), [], []
        files = 1
        rules_settings: Sequence[Settings] = [settings]
    else:
        found, fixed, diff_texts, files = [], [], [], 0
    other_paths = [p for p in request.paths if p != STDIN]
    if other_paths:
        sources, problems = discover(other_paths, resolver, force_exclude=request.force_exclude)
        for given, reason in problems:
            settings = resolver.for_path(Path(given))
            if UNANALYZABLE_CODE in settings.codes:
                found.append(unanalyzable(given, reason))
        files += len(sources)
        if request.fix or request.diff:
            for source in sources:
                result = _fix_file(source, request)
                found.extend(result.remaining)
                fixed.extend(result.fixed)
                if result.diff:
                    diff_texts.append(result.diff)
        else:
            with _progress_bar(request.progress and len(sources) > 20) as progress:
                run = check_files(
                    sources,
                    jobs=request.jobs,
                    use_cache=request.use_cache,
                    progress=progress,
                    parsers=request.parsers,
                )
            found.extend(run.diagnostics)
        rules_settings = resolver.all_settings()
    found = sort_diagnostics(found)
    outcome.remaining = len(found)

    if request.diff:
        outcome.output = "".join(diff_texts)
        # Like ruff: a pending change is a reason to fail a CI step.
        outcome.remaining = len(found) + (1 if diff_texts else 0)
        if not request.quiet:
            count = len(fixed)
            outcome.messages.append(
                f"Would fix {count} problem{'s' if count != 1 else ''}." if count else "No fixes available."
            )
        return outcome
    if stdin_source is not None:
        outcome.source = stdin_source
        if request.show_fixes:  # on stderr: stdout carries the fixed source
            outcome.messages.extend(_fix_report(fixed, detailed=True))
        return outcome

    from ..output import OutputOptions, render

    enabled = sorted({code for s in rules_settings for code in s.codes})
    options = OutputOptions(
        root=_root(rules_settings, resolver),
        cwd=Path(os.getcwd()),
        rule_codes=tuple(enabled),
        color=request.color,
        unsafe_fixes=request.unsafe_fixes,
        files_checked=files,
    )
    if request.statistics:
        outcome.output = _statistics(found, request.output_format)
    elif request.quiet and request.output_format == "full" and not found:
        outcome.output = ""
    else:
        outcome.output = render(request.output_format, found, options)
        if request.quiet and request.output_format == "full":
            # Quiet keeps the findings and drops the closing summary.
            outcome.output = _drop_summary(outcome.output)
    if (request.fix and not request.quiet) or request.show_fixes:
        outcome.messages.extend(_fix_report(fixed, request.show_fixes))
    return outcome


def _root(settings: Sequence[Settings], resolver: SettingsResolver) -> Path:
    roots = sorted({s.root for s in settings}, key=lambda p: len(p.parts))
    return roots[0] if roots else resolver.cwd


def _drop_summary(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    if lines and (lines[-1].startswith("Found ") or lines[-1].startswith("All checks passed")):
        lines.pop()
    return "\n".join(lines).rstrip("\n") + ("\n" if lines and any(lines) else "")


def _statistics(found: Sequence[Diagnostic], output_format: str) -> str:
    counts = Counter((d.code, d.name) for d in found)
    fixable = Counter(d.code for d in found if d.fix is not None)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    if output_format in ("json", "json-lines"):
        import json

        return json.dumps(
            [
                {"code": code, "name": name, "count": count, "fixable": fixable[code] > 0}
                for (code, name), count in rows
            ],
            indent=2,
        ) + "\n"
    width = max((len(str(c)) for c in counts.values()), default=1)
    return "".join(
        f"{count:>{width}}\t{code}\t{'[*] ' if fixable[code] else '    '}{name}\n"
        for (code, name), count in rows
    )


def _fix_report(fixed: Sequence[Diagnostic], detailed: bool) -> List[str]:
    if not fixed:
        return ["No fixes applied."] if detailed else []
    lines = [f"Fixed {len(fixed)} problem{'s' if len(fixed) != 1 else ''}."]
    if detailed:
        by_file = Counter((d.path, d.code, d.name) for d in fixed)
        current = None
        for (path, code, name), count in sorted(by_file.items()):
            if path != current:
                lines.append(f"{printable_path(path)}:")
                current = path
            lines.append(f"    {count} × {code} ({name})")
    return lines


# ---- fixes on files ---------------------------------------------------------------------


def _fix_file(source: SourcePath, request: CheckRequest) -> _FileFix:
    codes = source.settings.codes_for(source.path)
    try:
        data = read_bytes(str(source.path))
    except SourceError as error:
        return _FileFix(source.display, [], unanalyzable_if_enabled(source.display, error, codes))
    result = _fix_bytes(data, source.display, codes, request)
    if request.fix and not request.diff and result.new_bytes is not None and result.new_bytes != data:
        try:
            write_atomically(source.path, result.new_bytes)
        except OSError as error:  # a read-only folder, a full disk: the other files go on
            notebook = source.display.endswith(NOTEBOOK_SUFFIX)
            unwritten = lint_source_bytes(data, source.display, codes, notebook)
            message = f"cannot write the fixed file: {error.strerror or error}"
            return _FileFix(source.display, [], unwritten + [unanalyzable(source.display, message)])
    return result


@dataclass
class _BytesFix(_FileFix):
    new_bytes: Optional[bytes] = None


def _fix_bytes(data: bytes, display: str, codes: Tuple[str, ...], request: CheckRequest) -> _BytesFix:
    if display.endswith(NOTEBOOK_SUFFIX):
        from .notebook import fix_notebook

        new_bytes, fixed = fix_notebook(data, display, codes, request.unsafe_fixes)
        remaining = lint_source_bytes(new_bytes, display, codes, True)
        old_text, new_text = data.decode("utf-8", "replace"), new_bytes.decode("utf-8", "replace")
    else:
        try:
            decoded = decode_python(data)
        except SourceError:
            return _BytesFix(display, [], lint_source_bytes(data, display, codes, False))
        result: FixOutcome = fix_python_text(
            decoded.text,
            lambda text: lint_text(text, display, codes),
            unsafe=request.unsafe_fixes,
            newline=decoded.newline,
        )
        fixed, remaining = result.fixed, result.remaining
        old_text, new_text = decoded.text, result.text
        new_bytes = decoded.encode(new_text) if new_text != decoded.text else data
        if new_bytes is None:  # mixed line breaks: leave the file as it is
            return _BytesFix(display, [], lint_text(decoded.text, display, codes))
    diff = ""
    if request.diff and new_text != old_text:
        header_name = printable_path(display.lstrip("/"))
        diff = "".join(
            difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{header_name}",
                tofile=f"b/{header_name}",
            )
        )
        if diff and not diff.endswith("\n"):
            diff += "\n\\ No newline at end of file\n"
    return _BytesFix(display, fixed, remaining, diff, new_bytes)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that no reader ever sees a partial file, keeping
    its permission bits: a temporary file in the same folder, then ``os.replace``."""
    mode = os.stat(path).st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".kerascheck-tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class _NoProgress:
    def __enter__(self) -> Optional[Progress]:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _RichProgress:
    def __enter__(self) -> Progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn

        self._progress = RichProgress(
            TextColumn("checking"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True), transient=True
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("check", total=None)

        def update(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _progress_bar(enabled: bool) -> "_NoProgress | _RichProgress":
    return _RichProgress() if enabled else _NoProgress()

