"""Checking many files: cache look-ups, a process pool across files, crash isolation.

The output does not depend on the number of jobs: results are sorted at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from ..diagnostics import UNANALYZABLE_CODE, Diagnostic, sort_diagnostics
from .cache import Cache
from .discovery import SourcePath
from .lint import lint_text, unanalyzable
from .sources import SourceError, decode_python, read_bytes

NOTEBOOK_SUFFIX = ".ipynb"
# Below this many files to check, a process pool costs more than it saves.
MIN_FILES_FOR_POOL = 4
# Most files are decided by their text in microseconds: sent to a worker one by one, the
# main process's sending and receiving would be the bottleneck. Files go in batches, each
# batch taking every n-th file so that the large files of one folder are spread out.
MAX_BATCH = 16

if TYPE_CHECKING:  # pragma: no cover (importing it loads libcst)
    from .incremental import IncrementalParser, ParserMemory

Progress = Callable[[int, int], None]


def lint_source_bytes(
    data: bytes,
    display: str,
    codes: Sequence[str],
    notebook: bool,
    incremental: Optional["IncrementalParser"] = None,
) -> List[Diagnostic]:
    """Lint one file's bytes (a Python file or a notebook); problems become KC900. A
    Python file is parsed through ``incremental`` when given (see ``lint_text``)."""
    if notebook:
        from .notebook import lint_notebook

        return lint_notebook(data, display, codes)
    try:
        decoded = decode_python(data)
    except SourceError as error:
        return unanalyzable_if_enabled(display, error, codes)
    return lint_text(decoded.text, display, codes, incremental=incremental)


def lint_path(
    path: str, display: str, codes: Sequence[str], incremental: Optional["IncrementalParser"] = None
) -> List[Diagnostic]:
    try:
        data = read_bytes(path)
    except SourceError as error:
        return unanalyzable_if_enabled(display, error, codes)
    return lint_source_bytes(data, display, codes, path.endswith(NOTEBOOK_SUFFIX), incremental)


def unanalyzable_if_enabled(display: str, error: SourceError, codes: Sequence[str]) -> List[Diagnostic]:
    if UNANALYZABLE_CODE not in codes:
        return []
    return [unanalyzable(display, error.message, error.row, error.column)]


def _worker(path: str, display: str, codes: Tuple[str, ...]) -> List[dict]:
    # Plain dicts cross the process boundary faster than dataclasses with enums.
    return [d.to_dict() for d in lint_path(path, display, codes)]


def _batch_worker(batch: List[Tuple[str, str, Tuple[str, ...]]]) -> List[List[dict]]:
    return [_worker(path, display, codes) for path, display, codes in batch]


Pending = List[Tuple[SourcePath, Tuple[str, ...]]]


def _batches(pending: Pending, jobs: int) -> List[Pending]:
    size = max(1, min(MAX_BATCH, len(pending) // (jobs * 4)))
    count = -(-len(pending) // size)
    return [pending[start::count] for start in range(count)]


@dataclass
class RunResult:
    diagnostics: List[Diagnostic] = field(default_factory=list)
    files_checked: int = 0
    files_from_cache: int = 0


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover (not Linux)
        return max(os.cpu_count() or 1, 1)


def check_files(
    sources: Sequence[SourcePath],
    *,
    jobs: Optional[int] = None,
    use_cache: bool = True,
    progress: Optional[Progress] = None,
    parsers: Optional["ParserMemory"] = None,
) -> RunResult:
    """Every finding in ``sources``. A long-lived caller passes the ``parsers`` it keeps,
    through which the files checked in this process are parsed."""
    result = RunResult(files_checked=len(sources))
    pending: List[Tuple[SourcePath, Tuple[str, ...]]] = []
    done = 0
    for source in sources:
        codes = source.settings.codes_for(source.path)
        cached = None
        if use_cache:
            cached = Cache(source.settings.root).load(
                source.path, _fingerprint(source, codes), source.display
            )
        if cached is not None:
            result.diagnostics.extend(cached)
            result.files_from_cache += 1
            done += 1
        else:
            pending.append((source, codes))
    if progress:
        progress(done, len(sources))

    def finished(source: SourcePath, codes: Tuple[str, ...], found: List[Diagnostic]) -> None:
        nonlocal done
        result.diagnostics.extend(found)
        if use_cache:
            Cache(source.settings.root).store(source.path, _fingerprint(source, codes), found)
        done += 1
        if progress:
            progress(done, len(sources))

    jobs = jobs or default_jobs()
    if jobs <= 1 or len(pending) < MIN_FILES_FOR_POOL:
        for source, codes in pending:
            path = str(source.path)
            incremental = None
            # Notebooks are parsed whole: a parser kept for one would only evict another.
            if parsers is not None and not path.endswith(NOTEBOOK_SUFFIX):
                incremental = parsers.parser_for(path)
            finished(source, codes, lint_path(path, source.display, codes, incremental))
    else:
        _run_pool(pending, jobs, finished)
    result.diagnostics = sort_diagnostics(result.diagnostics)
    return result


def _fingerprint(source: SourcePath, codes: Tuple[str, ...]) -> str:
    return source.settings.fingerprint + ":" + ",".join(codes)


def _pool(jobs: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    # fork shares the already imported rules with the workers: no start-up import cost.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_ignore_ctrl_c)


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group; only the main process handles it (it stops
    # the pool), so that no worker prints a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_pool(
    pending: List[Tuple[SourcePath, Tuple[str, ...]]],
    jobs: int,
    finished: Callable[[SourcePath, Tuple[str, ...], List[Diagnostic]], None],
) -> None:
    unfinished: Pending = []
    pool = _pool(jobs)
    futures: Dict[Future, Pending] = {}
    try:
        for batch in _batches(pending, jobs):
            work = [(str(source.path), source.display, codes) for source, codes in batch]
            futures[pool.submit(_batch_worker, work)] = batch
        for future, batch in futures.items():
            try:
                results = future.result()
            except BrokenProcessPool:
                unfinished.extend(batch)
                continue
            for (source, codes), found in zip(batch, results):
                finished(source, codes, [Diagnostic.from_dict(d) for d in found])
    except BaseException:
        # Ctrl-C: drop the queued files instead of checking them all before exiting. The
        # futures are cancelled here because the pool's own cancel_futures is lost when
        # the pool is garbage-collected during the exit.
        for future in futures:
            future.cancel()
        pool.shutdown(wait=False)
        raise
    pool.shutdown()
    # A worker died (the parser can overflow the C stack on pathological input): check
    # each file of the unfinished batches alone, so only the file that kills its worker is
    # lost, as KC900.
    for source, codes in unfinished:
        finished(source, codes, _isolated(source, codes))


def _isolated(source: SourcePath, codes: Tuple[str, ...]) -> List[Diagnostic]:
    with _pool(1) as pool:
        try:
            return [
                Diagnostic.from_dict(d)
                for d in pool.submit(_worker, str(source.path), source.display, codes).result()
            ]
        except BrokenProcessPool:
            if UNANALYZABLE_CODE not in codes:
                return []
            return [
                unanalyzable(
                    source.display,
                    "the parser crashed on this file (it is probably nested too deeply): not analyzed",
                )
            ]


def check_stdin(data: bytes, display: str, codes: Sequence[str]) -> List[Diagnostic]:
    return lint_source_bytes(data, display, codes, display.endswith(NOTEBOOK_SUFFIX))


def relative_display(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd)
    except ValueError:  # pragma: no cover (different drive on Windows)
        return str(path)
