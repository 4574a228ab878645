"""``check --daemon``: the same output as a local run, served by a background process that
keeps kerascheck loaded, started by the first such run, private to its user, stopped on
request or when idle. Every test runs the real command in a fresh process, with its own
runtime folder, so each test has its own daemon."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from kerascheck.daemon import client, protocol
from kerascheck.launch import wants_daemon

pytestmark = pytest.mark.skipif(not protocol.supported(), reason="the daemon needs POSIX sockets")

# A finding (KC006) with a safe fix.
TRAIN = (
    "import keras\n\n"
    "model = keras.Sequential([keras.layers.Dense(1)])\n"
    "model.compile(optimizer=keras.optimizers.Adam(lr=0.01), loss='mse')  # é\n"
)
STARTUP_DEADLINE = 30.0


class Runner:
    def __init__(self, runtime: Path, project: Path) -> None:
        self.runtime = runtime
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        self.env["XDG_RUNTIME_DIR"] = str(runtime)

    def run(self, *args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        completed = subprocess.run(
            [sys.executable, "-m", "kerascheck", *args],
            cwd=self.project,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.env,
            timeout=120,
        )
        assert "Traceback" not in completed.stderr, completed.stderr
        return completed

    def status(self) -> Optional[dict]:
        completed = self.run("daemon", "status")
        if completed.returncode == 2:  # no daemon can run here
            assert "the daemon cannot run here" in completed.stderr
            return None
        if completed.returncode != 0:
            assert "not running" in completed.stdout
            return None
        pid = int(completed.stdout.split("pid ")[1].split(",")[0])
        requests = int(completed.stdout.split(" requests")[0].rsplit(" ", 1)[1])
        return {"pid": pid, "requests": requests}

    def wait_until_running(self) -> dict:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < deadline:
            status = self.status()
            if status is not None:
                return status
            time.sleep(0.1)
        raise AssertionError(f"no daemon started; logs: {self.logs()}")

    def logs(self) -> str:
        return "".join(p.read_text() for p in self.runtime.rglob("*.log"))


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    # Socket paths are limited to about 100 bytes: pytest's folders are too deep for them.
    runtime = Path(tempfile.mkdtemp(prefix="kcd-", dir="/tmp"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(TRAIN, encoding="utf-8")
    (project / "clean.py").write_text(
        "import keras\nmodel = keras.Sequential()\n", encoding="utf-8"
    )
    runner = Runner(runtime, project)
    yield runner
    status = runner.status()
    runner.run("daemon", "stop")
    if status is not None:  # never leave a process behind, even when stop is broken
        try:
            os.kill(status["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(runtime, ignore_errors=True)


def served(runner: Runner, *args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``args`` through the running daemon, checking that the daemon did serve it."""
    before = runner.wait_until_running()
    completed = runner.run(*args, stdin=stdin)
    after = runner.status()
    # Each status request counts itself: one more request between them is the run's.
    assert after is not None and after["pid"] == before["pid"]
    assert after["requests"] == before["requests"] + 2, "the daemon did not serve the run"
    return completed


def same(left: subprocess.CompletedProcess, right: subprocess.CompletedProcess) -> None:
    assert (left.returncode, left.stdout, left.stderr) == (
        right.returncode,
        right.stdout,
        right.stderr,
    )


def test_the_first_run_checks_locally_and_starts_the_daemon(runner: Runner):
    assert runner.status() is None
    first = runner.run("check", "--daemon", "--no-cache", "train.py")
    local = runner.run("check", "--no-cache", "train.py")
    same(first, local)
    assert first.returncode == 1 and "KC006" in first.stdout
    runner.wait_until_running()


@pytest.mark.parametrize(
    "args",
    [
        ["--no-cache", "train.py"],
        ["--no-cache", "clean.py"],
        ["--no-cache", "--output-format", "concise", "."],
        ["--no-cache", "--output-format", "json", "train.py"],
        ["--output-format", "sarif", "train.py"],
        ["--no-cache", "--statistics", "train.py"],
        ["--no-cache", "--diff", "train.py"],
        ["--no-cache", "--select", "KC001", "train.py"],
        ["--no-cache", "--select", "KC999", "train.py"],  # a usage error: exit 2
        ["--no-such-option"],
        ["--no-cache", "missing.py"],
        ["--no-cache", "--exit-zero", "-q", "train.py"],
    ],
)
def test_a_served_run_prints_what_a_local_run_prints(runner: Runner, args: List[str]):
    runner.run("daemon", "start")
    through_daemon = served(runner, "check", "--daemon", *args)
    local = runner.run("check", *args)
    same(through_daemon, local)


def test_a_served_scan_of_many_files_uses_the_pool_and_prints_what_a_local_run_prints(
    runner: Runner,
):
    """Enough files for the process pool, forked from the daemon while it serves."""
    for index in range(12):
        shutil.copy(
            runner.project / ("train.py" if index % 3 else "clean.py"),
            runner.project / f"m{index}.py",
        )
    runner.run("daemon", "start")
    args = ["check", "--no-cache", "--jobs", "2", "--output-format", "concise", "."]
    through_daemon = served(runner, *args, "--daemon")
    same(through_daemon, runner.run(*args))
    assert through_daemon.stdout.count("KC006") == 9


def test_stdin_reaches_the_daemon(runner: Runner):
    runner.run("daemon", "start")
    source = TRAIN
    args = ["check", "--no-cache", "-", "--stdin-filename", "piped.py"]
    through_daemon = served(runner, *args, "--daemon", stdin=source)
    same(through_daemon, runner.run(*args, stdin=source))
    assert "piped.py" in through_daemon.stdout and "KC006" in through_daemon.stdout


def test_a_fix_through_the_daemon_writes_the_file(runner: Runner):
    runner.run("daemon", "start")
    fixed_locally = runner.project / "local.py"
    shutil.copy(runner.project / "train.py", fixed_locally)
    through_daemon = served(runner, "check", "--daemon", "--no-cache", "--fix", "train.py")
    local = runner.run("check", "--no-cache", "--fix", "local.py")
    assert through_daemon.returncode == local.returncode == 0
    assert "learning_rate=" in (runner.project / "train.py").read_text(encoding="utf-8")
    assert (runner.project / "train.py").read_bytes() == fixed_locally.read_bytes()


def test_edits_and_configuration_changes_are_seen_by_the_next_request(runner: Runner):
    runner.run("daemon", "start")
    target = runner.project / "train.py"
    assert served(runner, "check", "--daemon", "--no-cache", "train.py").returncode == 1
    target.write_text(
        target.read_text(encoding="utf-8").replace("lr=", "learning_rate="), encoding="utf-8"
    )
    assert served(runner, "check", "--daemon", "--no-cache", "train.py").returncode == 0
    target.write_text(
        target.read_text(encoding="utf-8").replace("learning_rate=", "lr="), encoding="utf-8"
    )
    (runner.project / "pyproject.toml").write_text(
        '[tool.kerascheck]\nignore = ["KC006"]\n', encoding="utf-8"
    )
    assert served(runner, "check", "--daemon", "train.py").returncode == 0
    (runner.project / "pyproject.toml").write_text("[tool.kerascheck]\n", encoding="utf-8")
    again = served(runner, "check", "--daemon", "train.py")
    assert again.returncode == 1 and "KC006" in again.stdout


def test_the_working_folder_of_each_client_is_used(runner: Runner):
    runner.run("daemon", "start")
    nested = runner.project / "sub"
    nested.mkdir()
    shutil.copy(runner.project / "train.py", nested / "inner.py")
    runner.project = nested
    through_daemon = served(
        runner, "check", "--daemon", "--no-cache", "--output-format", "json", "."
    )
    assert [f["filename"] for f in json.loads(through_daemon.stdout)] == ["inner.py"]


def test_a_terminal_client_gets_what_a_terminal_gets(runner: Runner):
    """The client's own terminal is handed over: colours and all, as a local run."""
    runner.run("daemon", "start")
    runner.wait_until_running()

    def on_a_terminal(*args: str) -> bytes:
        main, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "kerascheck", *args],
            cwd=runner.project,
            env={**runner.env, "TERM": "xterm-256color", "COLUMNS": "100"},
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.DEVNULL,
        )
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            output += chunk
        os.close(main)
        process.wait(timeout=60)
        return output

    through_daemon = on_a_terminal("check", "--daemon", "--no-cache", "train.py")
    local = on_a_terminal("check", "--no-cache", "train.py")
    assert b"\x1b[" in local  # colours on a terminal
    assert through_daemon == local


def test_stop_and_status(runner: Runner):
    assert runner.run("daemon", "status").returncode == 1
    started = runner.run("daemon", "start")
    assert started.returncode == 0 and "running" in started.stdout
    pid = runner.wait_until_running()["pid"]
    again = runner.run("daemon", "start")
    assert f"pid {pid}," in again.stdout  # one daemon, not two
    stopped = runner.run("daemon", "stop")
    assert f"stopped (pid {pid})" in stopped.stdout
    deadline = time.monotonic() + STARTUP_DEADLINE
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert not list(runner.runtime.rglob("*.sock"))
    assert runner.status() is None


def test_an_idle_daemon_stops_by_itself(runner: Runner):
    started = runner.run("daemon", "start", "--idle-timeout", "1")
    # From start's own answer: asking again could come after the second has passed.
    pid = int(started.stdout.split("pid ")[1].split(",")[0])
    deadline = time.monotonic() + STARTUP_DEADLINE
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_a_folder_others_can_enter_is_not_used(runner: Runner):
    os.chmod(runner.runtime, 0o755)
    private = runner.runtime / "kerascheck"
    private.mkdir(mode=0o755)
    first = runner.run("check", "--daemon", "--no-cache", "train.py")
    same(first, runner.run("check", "--no-cache", "train.py"))  # checked here instead
    refused = runner.run("daemon", "start")
    assert refused.returncode == 2 and "not a folder private to this user" in refused.stderr
    assert not list(private.iterdir())


def test_a_dead_daemons_socket_is_replaced(runner: Runner):
    runner.run("daemon", "start")
    pid = runner.wait_until_running()["pid"]
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)
    sockets = list(runner.runtime.rglob("*.sock"))
    assert sockets, "the killed daemon's socket is left behind, as after a crash"
    again = runner.run("check", "--daemon", "--no-cache", "train.py")
    assert again.returncode == 1 and "KC006" in again.stdout  # checked here
    assert runner.wait_until_running()["pid"] != pid


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="acting as another user needs root"
)
def test_a_client_of_another_user_gets_no_answer(runner: Runner):
    """Beyond the private folder, the daemon asks the kernel who connected: with the
    folder opened up, another user still gets no answer."""
    runner.run("daemon", "start")
    runner.wait_until_running()
    (socket_file,) = runner.runtime.rglob("*.sock")
    os.chmod(runner.runtime, 0o755)
    os.chmod(socket_file.parent, 0o755)
    os.chmod(socket_file, 0o777)
    stranger = (
        "import json, os, socket, struct, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "s.connect(sys.argv[1])\n"
        "body = json.dumps({'command': 'status'}).encode()\n"
        "try:\n"
        "    s.sendall(struct.pack('!I', len(body)) + body)\n"
        "    print(repr(s.recv(65536)))\n"
        "except ConnectionError:\n"
        "    print('closed')\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", stranger, str(socket_file)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() in ("b''", "closed")
    os.chmod(socket_file.parent, 0o700)
    assert runner.status() is not None  # and the daemon still serves its user


def test_interrupting_the_client_interrupts_the_check(runner: Runner):
    """Ctrl-C on a client waiting for the daemon stops the check there (exit 130), and the
    daemon goes on serving."""
    many = runner.project / "many"
    many.mkdir()
    # Far more work than the second before the interrupt, on any machine.
    body = (runner.project / "train.py").read_text(encoding="utf-8") * 250
    for index in range(60):
        (many / f"m{index}.py").write_text(body, encoding="utf-8")
    runner.run("daemon", "start")
    pid = runner.wait_until_running()["pid"]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kerascheck",
            "check",
            "--daemon",
            "--no-cache",
            "--jobs",
            "1",
            "many",
        ],
        cwd=runner.project,
        env=runner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert runner.wait_until_running()["pid"] == pid
    assert served(runner, "check", "--daemon", "--no-cache", "train.py").returncode == 1


def test_wants_daemon_reads_the_flag_of_check_only():
    assert wants_daemon(["check", "--daemon", "a.py"])
    assert wants_daemon(["check", "a.py", "--daemon"])
    assert not wants_daemon(["check", "a.py"])
    assert not wants_daemon(["check", "--", "--daemon"])  # a file named --daemon
    assert not wants_daemon(["rule", "--daemon"])
    assert not wants_daemon([])


def test_the_socket_belongs_to_the_code(monkeypatch: pytest.MonkeyPatch, runner: Runner):
    """A daemon running older code is never reached: its socket has another name."""
    runtime = runner.runtime
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    first = protocol.socket_path()
    monkeypatch.setattr(protocol, "code_fingerprint", lambda: "other code")
    assert protocol.socket_path() != first
    assert stat.S_IMODE(os.stat(runtime / "kerascheck").st_mode) == 0o700


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (the daemon's parent may not have reaped it yet) is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def test_a_served_run_loads_neither_click_nor_libcst_in_the_client(runner: Runner):
    """The client's whole point is its start-up: the standard library only."""
    runner.run("daemon", "start")
    runner.wait_until_running()
    probe = (
        "import atexit, sys\n"
        "heavy = ('click', 'libcst', 'rich', 'kerascheck.cli', 'kerascheck.engine')\n"
        "loaded = lambda: sorted(m for m in heavy if m in sys.modules)\n"
        "atexit.register(lambda: print(loaded(), file=sys.stderr))\n"
        "sys.argv = ['kerascheck', 'check', '--daemon', '--no-cache', 'train.py']\n"
        "from kerascheck.launch import main\n"
        "main()\n"
    )
    served_run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=runner.project,
        env=runner.env,
        capture_output=True,
        text=True,
    )
    assert served_run.returncode == 1 and "KC006" in served_run.stdout
    assert served_run.stderr.strip().splitlines()[-1] == "[]"
    # The same probe without the daemon loads them: the check above can fail.
    local = subprocess.run(
        [sys.executable, "-c", probe.replace("'--daemon', ", "")],
        cwd=runner.project,
        env=runner.env,
        capture_output=True,
        text=True,
    )
    assert "'libcst'" in local.stderr.strip().splitlines()[-1]


def test_a_starting_daemon_stops_those_of_earlier_code(runner: Runner):
    """A daemon of this interpreter and package under another socket name (the name of
    earlier code, before an upgrade) is unreachable: the next daemon to start stops it."""
    folder = runner.runtime / "kerascheck"
    folder.mkdir(mode=0o700)
    earlier = subprocess.Popen(
        client.daemon_command(str(folder / "earlier.sock")),
        env={**runner.env, "PYTHONPATH": str(Path(client.PACKAGE_DIR).parent)},
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while client.ask(str(folder / "earlier.sock"), "status") is None:
            assert time.monotonic() < deadline and earlier.poll() is None
            time.sleep(0.05)
        runner.run("daemon", "start")
        assert earlier.wait(timeout=STARTUP_DEADLINE) == 0
        assert runner.status() is not None
    finally:
        if earlier.poll() is None:
            earlier.kill()


def test_messages_sent_back_to_back_are_received_one_by_one():
    """The daemon answers "accepted" and, for a quick check, "exit" before the client
    reads: each read must take one message and leave the next in the socket."""
    sender, receiver = socket.socketpair()
    with sender, receiver:
        protocol.send_message(sender, {"accepted": True})
        protocol.send_message(sender, {"exit": 2})
        assert protocol.receive_message(receiver) == ({"accepted": True}, [])
        assert protocol.receive_message(receiver) == ({"exit": 2}, [])
        sender.close()
        assert protocol.receive_message(receiver) == (None, [])
