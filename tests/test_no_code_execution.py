"""kerascheck never imports, executes or evaluates the code it reads.

Every planted file would create a marker file if it were imported or run (a module body,
``__init__.py``, ``conftest.py``, ``setup.py``, ``__main__.py``, ``sitecustomize.py``, a
notebook cell, a cell magic, a shell escape, modules named like kerascheck's own
dependencies); after full scans, with ``--fix``, ``--diff`` and stdin, no marker exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

# Keras code that triggers every rule, so that each planted file is parsed and analysed
# (and fixed: `lr=` has a safe fix).
KERAS = (
    "from tensorflow import keras\n"
    "model = keras.Sequential([keras.layers.Dense(1, activation='softmax')])\n"
    "model.compile(optimizer=keras.optimizers.SGD(lr=0.1), loss='categorical_crossentropy')\n"
    "model.fit(x, y, epochs=3)\n"
    "out = keras.layers.Lambda(lambda t: t[:, 0], output_shape=(3,))\n"
)


def _touch(markers: Path, name: str) -> str:
    """Python that creates a marker file named ``name`` if it ever runs."""
    return f"open({str(markers / name)!r}, 'w').close()\n"


def _planted(markers: Path) -> Dict[str, str]:
    touch = lambda name: _touch(markers, name)  # noqa: E731
    files = {
        "train.py": touch("module_body") + KERAS,
        "pkg/__init__.py": touch("package_init") + KERAS,
        "pkg/sub/__init__.py": "from . import deep\n" + touch("subpackage_init"),
        "pkg/sub/deep.py": KERAS + "if __name__ == '__main__':\n    " + touch("main_guard"),
        "conftest.py": touch("conftest") + KERAS,
        "setup.py": touch("setup") + "from setuptools import setup\nsetup(name='x')\n" + KERAS,
        "__main__.py": touch("dunder_main") + KERAS,
        "sitecustomize.py": touch("sitecustomize") + KERAS,
        "usercustomize.py": touch("usercustomize") + KERAS,
        "docs/conf.py": touch("sphinx_conf") + KERAS,
        "stub.pyi": touch("stub") + KERAS,
        "decorated.py": KERAS + "@__import__('os').system\ndef f(): pass\n" + touch("decorated"),
        "evaluated.py": KERAS + "eval(compile(" + repr(touch("evaluated")) + ", 'x', 'exec'))\n",
        "defaults.py": KERAS + "def f(x=" + touch("default_argument").strip() + "): pass\n",
        "annotations.py": KERAS + "x: " + touch("annotation").strip() + " = 1\n",
        "syntax_error.py": touch("syntax_error") + KERAS + "def broken(:\n",
        "build_backend.py": touch("build_backend"),
        "pyproject.toml": (
            "[build-system]\nrequires = []\nbuild-backend = 'build_backend'\n"
            "backend-path = ['.']\n\n[tool.kerascheck]\nselect = ['ALL']\n"
        ),
    }
    # Modules named like kerascheck's dependencies: a tool that put the project folder on
    # sys.path would import these instead of the real ones.
    for shadow in (
        "click",
        "libcst",
        "rich",
        "pathspec",
        "tomli",
        "json",
        "typing_extensions",
        "keras",
    ):
        files[f"{shadow}.py"] = touch(f"shadowed_{shadow}")
    return files


def _notebook(markers: Path) -> str:
    cells = [
        {
            "cell_type": "code",
            "source": _touch(markers, "notebook_cell") + KERAS,
            "metadata": {},
            "outputs": [],
        },
        {
            "cell_type": "code",
            "source": "%%bash\ntouch " + str(markers / "cell_magic") + "\n",
            "metadata": {},
            "outputs": [],
        },
        {
            "cell_type": "code",
            "source": "!touch " + str(markers / "shell_escape") + "\n",
            "metadata": {},
            "outputs": [],
        },
        {
            "cell_type": "code",
            "source": "%run train.py\n%load_ext kerascheck\n",
            "metadata": {},
            "outputs": [],
        },
        {
            "cell_type": "markdown",
            "source": "```python\n" + _touch(markers, "markdown") + "```\n",
            "metadata": {},
        },
    ]
    metadata = {"kernelspec": {"name": "python3", "language": "python"}}
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def planted(tmp_path: Path):
    project, markers = tmp_path / "project", tmp_path / "markers"
    markers.mkdir()
    for name, text in _planted(markers).items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (project / "analysis.ipynb").write_text(_notebook(markers), encoding="utf-8")
    return project, markers


def _commands(project: Path) -> List[List[str]]:
    module = [sys.executable, "-m", "kerascheck", "check"]
    commands = [
        module + ["--output-format", "json", "--no-cache", "--jobs", "1", str(project)],
        module + ["--output-format", "json", "--jobs", "2", str(project)],  # pool + cache
        module + ["--diff", "--no-cache", str(project)],
        module + ["--fix", "--unsafe-fixes", "--no-cache", str(project)],
        module + ["--output-format", "json", "--stdin-filename", "train.py", "-"],
    ]
    # The installed console script, run from inside the project as pre-commit does.
    script = shutil.which("kerascheck") or str(Path(sys.executable).with_name("kerascheck"))
    if Path(script).exists():
        commands.append([script, "check", "--output-format", "json", "--no-cache", "."])
        commands.append([script, "check", "--fix", "--no-cache", "."])
    return commands


def test_no_planted_code_runs(planted):
    project, markers = planted
    stdin = (project / "train.py").read_text(encoding="utf-8")
    for command in _commands(project):
        # Outside the project for `python -m`, which puts the working folder first on
        # sys.path (so would any `python -m` tool); the console script runs inside it.
        cwd = project if command[0] != sys.executable else project.parent
        result = subprocess.run(
            command, cwd=str(cwd), input=stdin, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 1), (command, result.stderr)
        assert sorted(path.name for path in markers.iterdir()) == [], command
    # The scan did analyse the planted files: the markers stayed absent for the right reason.
    fixed = (project / "train.py").read_text(encoding="utf-8")
    assert "learning_rate=0.1" in fixed and "lr=0.1" not in fixed


def test_findings_prove_the_planted_files_were_read(planted):
    project, _ = planted
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kerascheck",
            "check",
            "--output-format",
            "json",
            "--no-cache",
            str(project),
        ],
        cwd=str(project.parent),
        capture_output=True,
        text=True,
        timeout=120,
    )
    flagged = {Path(finding["filename"]).name for finding in json.loads(result.stdout)}
    assert {
        "train.py",
        "__init__.py",
        "conftest.py",
        "setup.py",
        "__main__.py",
        "analysis.ipynb",
    } <= flagged
