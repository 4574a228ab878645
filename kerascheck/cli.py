"""The ``kerascheck`` command line: thin click commands over the engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn, Optional, Sequence, Tuple

import click

from . import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 2, 130

OUTPUT_FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif", "lsp")
# How long `daemon start` waits for the daemon it started to answer.
DAEMON_START_SECONDS = 20.0


def _split_codes(values: Sequence[str]) -> Tuple[str, ...]:
    """``--select KC001,KC002 --select KC003`` -> ("KC001", "KC002", "KC003")."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


class _Group(click.Group):
    # Not ``main``: click turns Ctrl-C into "Aborted!" and exit status 1 inside it.
    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("kerascheck: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kerascheck")
def main() -> None:
    """kerascheck: find the Keras pitfalls that raise no error but train the wrong thing."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes, prefixes (KC00) or names to enable (replaces the configured selection).")
@click.option("--ignore", multiple=True, help="Rule codes, prefixes or names to disable.")
@click.option("--extend-select", multiple=True, help="Rule codes, prefixes or names to enable in addition.")
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="full",
    show_default=True,
    help="How findings are printed.",
)
@click.option("--fix", is_flag=True, help="Apply safe fixes (and unsafe ones with --unsafe-fixes).")
@click.option("--unsafe-fixes", is_flag=True, help="Include fixes that change behaviour on purpose.")
@click.option("--diff", is_flag=True, help="Print the diff --fix would apply; write nothing.")
@click.option("--show-fixes", is_flag=True, help="List the fixes that were applied.")
@click.option("--exit-zero", is_flag=True, help="Exit with status 0 even when findings remain.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--stdin-filename", help="The name of the file read from stdin ('-').")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A pyproject.toml (or TOML file) to use instead of the discovered one.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no summary, no progress.")
@click.option("--force-exclude", is_flag=True, help="Apply `exclude` even to files named on the command line.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Parallel processes (default: all cores).")
@click.option(
    "--daemon",
    is_flag=True,
    help="Check through a background process that keeps kerascheck loaded "
    "(started by the first such run).",
)
@click.pass_obj
def check(
    kept_parsers: object,
    paths: Tuple[str, ...],
    select: Tuple[str, ...],
    ignore: Tuple[str, ...],
    extend_select: Tuple[str, ...],
    output_format: str,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    show_fixes: bool,
    exit_zero: bool,
    no_cache: bool,
    stdin_filename: Optional[str],
    statistics: bool,
    config_file: Optional[str],
    quiet: bool,
    force_exclude: bool,
    jobs: Optional[int],
    daemon: bool,
) -> None:
    """Check PATHS (files or folders; default "."; "-" reads stdin)."""
    # ``--daemon`` was acted on before click ran (``kerascheck.launch``); here the run is
    # local, or it is the daemon's, which passes the parses it keeps as the context object.
    from .config import CliOverrides, ConfigError, SettingsResolver
    from .engine.check import CheckRequest, run_check

    cli = CliOverrides(
        select=_split_codes(select) if select else None,
        ignore=_split_codes(ignore),
        extend_select=_split_codes(extend_select),
    )
    try:
        resolver = SettingsResolver(cli, Path(config_file) if config_file else None)
    except ConfigError as error:
        _fail(str(error))
    request = CheckRequest(
        paths=list(paths) or ["."],
        output_format=output_format,
        fix=fix,
        unsafe_fixes=unsafe_fixes,
        diff=diff,
        show_fixes=show_fixes,
        use_cache=not no_cache,
        stdin_filename=stdin_filename,
        statistics=statistics,
        quiet=quiet,
        force_exclude=force_exclude,
        jobs=jobs,
        color=sys.stdout.isatty() and "NO_COLOR" not in os.environ,
        progress=not quiet and sys.stderr.isatty() and output_format in ("full", "concise"),
        parsers=kept_parsers,  # type: ignore[arg-type]
    )
    try:
        outcome = run_check(request, resolver)
    except ConfigError as error:
        _fail(str(error))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # never a bare traceback: say what failed, exit 2
        _fail(f"internal error: {type(error).__name__}: {error} (please report it)")
    if outcome.source is not None:  # encoding, BOM and line endings as they came in
        click.get_binary_stream("stdout").write(outcome.source)
    elif outcome.output:
        click.echo(outcome.output, nl=not outcome.output.endswith("\n"))
    for message in outcome.messages:
        click.echo(message, err=True)
    if outcome.failed:
        sys.exit(EXIT_FAILURE)
    sys.exit(EXIT_FINDINGS if outcome.remaining and not exit_zero else EXIT_CLEAN)


@main.command()
@click.argument("code_or_name")
def rule(code_or_name: str) -> None:
    """Show a rule's documentation (by code, e.g. KC002, or name)."""
    from .registry import get_rule

    found = get_rule(code_or_name)
    if found is None:
        _fail(f"unknown rule {code_or_name!r}; `kerascheck rules` lists them")
    text = f"# {found.code} {found.name}\n\n{found.summary[0].upper()}{found.summary[1:]}.\n\n{found.documentation()}"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List every rule."""
    import json

    from .registry import all_rules

    registry = all_rules()
    if output_format == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "summary": r.summary,
                        "severity": str(r.severity),
                        "fix": _fix_kind(r),
                        "url": r.url(),
                    }
                    for r in registry
                ],
                indent=2,
            )
        )
        return
    for r in registry:
        click.echo(f"{r.code}  {r.name:<32} {r.summary}")


def _fix_kind(rule_class) -> Optional[str]:  # type: ignore[no-untyped-def]
    """What the rule's documentation says about its fix: "safe", "unsafe" or None."""
    text = rule_class.doc_sections().get("Fix safety", "").lower()
    if text.startswith("safe"):
        return "safe"
    if text.startswith("unsafe"):
        return "unsafe"
    return None


@main.command()
def server() -> None:
    """Run the language server on stdio (needs `pip install "kerascheck[lsp]"`)."""
    try:
        from .server import serve
    except ImportError as error:
        _fail(
            f"the language server needs pygls and lsprotocol ({error.name or error} is missing): "
            'pip install "kerascheck[lsp]"'
        )
    serve()


@main.group()
def daemon() -> None:
    """The background process behind `check --daemon` (one per user and installation)."""


@daemon.command("start")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop after this many seconds without a request (default: 30 minutes).",
)
def daemon_start(idle_timeout: Optional[float]) -> None:
    """Start the daemon in the background, unless it is running."""
    import time

    from .daemon import client, protocol

    path = _daemon_socket()
    status = client.ask(path, "status")
    if status is None:
        client.start_in_background(path, idle_timeout or protocol.DEFAULT_IDLE_TIMEOUT)
        deadline = time.monotonic() + DAEMON_START_SECONDS
        while status is None and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.ask(path, "status")
        if status is None:
            _fail(f"the daemon did not start; its log is {path}.log")
    elif idle_timeout is not None and status["idle_timeout"] != idle_timeout:
        kept = status["idle_timeout"]
        click.echo(f"kerascheck: the running daemon keeps its idle timeout of {kept:g} s", err=True)
    _echo_status(status)


@daemon.command("stop")
def daemon_stop() -> None:
    """Stop the daemon, if it is running."""
    from .daemon import client

    reply = client.ask(_daemon_socket(), "stop")
    if reply is None:
        click.echo("kerascheck daemon is not running")
    else:
        click.echo(f"kerascheck daemon stopped (pid {reply['pid']})")


@daemon.command("status")
def daemon_status() -> None:
    """Say whether the daemon runs (exit status 1 when it does not)."""
    from .daemon import client

    status = client.ask(_daemon_socket(), "status")
    if status is None:
        click.echo("kerascheck daemon is not running")
        sys.exit(EXIT_FINDINGS)
    _echo_status(status)


def _daemon_socket() -> str:
    from .daemon import protocol

    if not protocol.supported():
        _fail("the daemon needs Unix domain sockets that pass file descriptors (Linux, macOS)")
    try:
        return protocol.socket_path()
    except protocol.DaemonUnavailable as error:
        _fail(f"the daemon cannot run here: {error}")


def _echo_status(status: dict) -> None:  # type: ignore[type-arg]
    click.echo(
        f"kerascheck daemon running (pid {status['pid']}, version {status['version']}, "
        f"up {status['uptime']:g} s, {status['requests']} requests, "
        f"idle timeout {status['idle_timeout']:g} s, socket {status['socket']})"
    )


def _fail(message: str) -> NoReturn:
    click.echo(f"kerascheck: error: {message}", err=True)
    sys.exit(EXIT_FAILURE)

