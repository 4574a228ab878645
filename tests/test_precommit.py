"""The real pre-commit, running this checkout's hooks (``pre-commit try-repo``) in a
throwaway git repository: the hook fails on a file with a finding and passes on a clean one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kerascheck.daemon import client, protocol

REPO = Path(__file__).resolve().parent.parent
FLAGGED = "from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.1)\n"
CLEAN = "from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.1)\n"

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="needs git and a git checkout of kerascheck",
)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    # One hook environment for the module's tests: installing it is the slow part.
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(project: Path, home: Path, hook: str, *files: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    env.pop("PRE_COMMIT_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--color", "never", "--files", *files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "test@example.invalid")
    _git(tmp_path, "config", "user.name", "test")
    (tmp_path / "flagged.py").write_text(FLAGGED, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    _git(tmp_path, "add", ".")
    return tmp_path


def test_hook_fails_on_a_finding_and_passes_on_clean_code(project: Path, pre_commit_home: Path):
    failing = _try_repo(project, pre_commit_home, "kerascheck", "flagged.py")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "flagged.py:2:28: KC006" in failing.stdout
    passing = _try_repo(project, pre_commit_home, "kerascheck", "clean.py")
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_fix_hook_repairs_the_file(project: Path, pre_commit_home: Path):
    result = _try_repo(project, pre_commit_home, "kerascheck-fix", "flagged.py")
    # pre-commit fails a hook that modified files, as with every fixer.
    assert result.returncode == 1
    assert (project / "flagged.py").read_text(encoding="utf-8") == CLEAN


@pytest.mark.skipif(not protocol.supported(), reason="the daemon needs POSIX sockets")
def test_hook_with_the_daemon_flag_reports_the_same_and_leaves_a_daemon(
    project: Path, pre_commit_home: Path
):
    """``args: [--daemon]``: the first run checks in the hook's own process and starts the
    daemon, the next ones are served by it, with the same report."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n"
        "      - id: kerascheck\n        args: [--daemon]\n",
        encoding="utf-8",
    )
    runtime = Path(tempfile.mkdtemp(prefix="kcp-", dir="/tmp"))  # socket paths must be short
    env = dict(os.environ, PRE_COMMIT_HOME=str(pre_commit_home), GIT_CONFIG_NOSYSTEM="1")
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env.pop("PRE_COMMIT_COLOR", None)

    def run_hook() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", "--color=never", "--files", "flagged.py"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    try:
        first = run_hook()
        assert first.returncode == 1, first.stdout + first.stderr
        assert "flagged.py:2:28: KC006" in first.stdout
        sockets: list = []
        deadline = time.monotonic() + 30
        while not sockets and time.monotonic() < deadline:
            sockets = [s for s in runtime.rglob("*.sock") if client.ask(str(s), "status")]
            time.sleep(0.1)
        assert len(sockets) == 1, "the first run did not leave a daemon"
        requests = client.ask(str(sockets[0]), "status")["requests"]
        second = run_hook()
        assert second.returncode == 1 and _report(second) == _report(first)
        # Between the two status requests: the hook's check.
        assert client.ask(str(sockets[0]), "status")["requests"] == requests + 2
    finally:
        for socket_file in runtime.rglob("*.sock"):
            client.ask(str(socket_file), "stop")
        shutil.rmtree(runtime, ignore_errors=True)


def _report(run: subprocess.CompletedProcess) -> list:
    """The hook's report, without pre-commit's lines about installing its environment."""
    return [line for line in run.stdout.splitlines() if not line.startswith("[INFO]")]
