from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    cwd: Path,
    stdin: Optional[str] = None,
    timeout: float = 120,
    extra_env: Optional[Dict[str, str]] = None,
) -> CliResult:
    """Run the real ``kerascheck`` command (as ``python -m kerascheck``) in ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra_env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "kerascheck", *args],
        cwd=str(cwd),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=env,
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli():
    return run_cli
