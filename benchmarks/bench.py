"""Benchmark kerascheck against ruff on a corpus of real Keras code.

    python benchmarks/bench.py [--runs 5] [--corpus DIR]

Assembles the corpus once (the Python sources inside pinned releases of Keras-heavy
packages, fetched with pip as data, never imported, plus notebooks made from some of
those files), then times, paired in one run and alternating so that machine noise hits
both alike:

- ``kerascheck check --no-cache`` (cold) and ``kerascheck check`` on an unchanged tree
  (warm cache), with all cores;
- ``ruff check --no-cache`` with its default rules, the speed reference;
- ``kerascheck check`` of one 1,000-line file, end to end (what an editor or a pre-commit
  run on one file waits for): a clean training script, and the same script with one
  finding (an optimizer built with ``lr=``), which must be parsed and analysed;
- the same two files through ``check --daemon`` (a daemon started for the benchmark in a
  private folder), each edited before every run as between two commits: the daemon has
  seen the file's previous version. And a copy of the flagged file under a new name for
  every run, which the daemon parses whole (its first sight of a file);

and prints medians, the ratios to ruff, and the peak memory of a cold run. kerascheck is
timed as users and pre-commit run it: this checkout installed with ``pip install .`` into
a virtual environment of the benchmark's own, through its console script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

PACKAGES = ("keras==3.6.0", "tf-keras==2.17.0", "keras-hub==0.18.1", "keras-cv==0.9.0")
NOTEBOOKS = 60  # notebooks made from the corpus's example-like files
REPOSITORY = Path(__file__).resolve().parent.parent


def assemble_corpus(target: Path) -> None:
    wheels = target / "_wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels), *PACKAGES],
        check=True,
    )
    for wheel in sorted(wheels.glob("*.whl")):
        folder = target / wheel.name.split("-")[0]
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".py"):
                    archive.extract(name, folder)
    shutil.rmtree(wheels)
    _make_notebooks(target)


def _make_notebooks(target: Path) -> None:
    """Turn some of the corpus's files into notebooks: one cell per top-level block, with a
    markdown cell and a magic in front, as notebooks in the wild look."""
    sources = sorted(p for p in target.rglob("*.py") if "layers" in p.parts)[:NOTEBOOKS]
    folder = target / "notebooks"
    folder.mkdir(exist_ok=True)
    for index, source in enumerate(sources):
        text = source.read_text(encoding="utf-8", errors="replace")
        blocks: List[List[str]] = [[]]
        for line in text.splitlines(keepends=True):
            if line.strip() and not line[0].isspace() and blocks[-1] and not line.startswith(("@", ")", "]", "}")):
                blocks.append([])
            blocks[-1].append(line)
        cells = [
            {"cell_type": "markdown", "metadata": {}, "source": [f"# {source.name}\n"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [], "source": ["%matplotlib inline\n"]},
        ] + [
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": block}
            for block in blocks
            if block
        ]
        notebook = {
            "cells": cells,
            "metadata": {"kernelspec": {"language": "python", "name": "python3", "display_name": "Python 3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (folder / f"nb{index:03d}.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def one_thousand_line_file(path: Path, with_finding: bool = False) -> None:
    """A realistic 1,000-line training script (model code with every trigger word), clean
    or with one finding."""
    block = '''
def build_model_{i}(units=64, stateful=False):
    model = keras.Sequential()
    model.add(layers.LSTM(units, stateful=stateful, batch_input_shape=(32, 10, 8)))
    model.add(layers.Dense(units, activation="relu"))
    model.add(layers.Lambda(lambda t: t * 2.0, output_shape=(units,)))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="categorical_crossentropy")
    return model


def batches_{i}(x, y, batch_size=32):
    while True:
        index = np.random.randint(0, len(x), batch_size)
        yield x[index], y[index]


def train_{i}(x, y):
    model = build_model_{i}()
    history = model.fit(batches_{i}(x, y), steps_per_epoch=10, epochs=3)
    return model, history
'''
    header = "import numpy as np\nimport keras\nfrom keras import layers\n"
    body = [header]
    i = 0
    while sum(part.count("\n") for part in body) < 1000:
        body.append(block.format(i=i))
        i += 1
    text = "".join(body)
    if with_finding:
        text = text.replace("learning_rate=1e-3", "lr=1e-3", 1)
    path.write_text(text, encoding="utf-8")


def install_kerascheck(folder: Path) -> Path:
    """This checkout installed as users and pre-commit install it (``pip install .``, not
    editable: compiled bytecode, no import hook), in a virtual environment of its own; its
    console script. A development install would add an import hook's cost to every start,
    and its bytecode would go stale as the code is edited."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    binaries = folder / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run(
        [str(binaries / "python"), "-m", "pip", "install", "--quiet", str(REPOSITORY)], check=True
    )
    return binaries / "kerascheck"


def edit_one_line(path: Path, run: int) -> None:
    """A small edit, as between two commits: one model's units change."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"units={64 + run}", f"units={65 + run}", 1), encoding="utf-8")


def timed(command: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def peak_memory_mib(command: Sequence[str], cwd: Path) -> float:
    """Peak resident memory of the largest process of a run (a worker or the main one)."""
    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *command], cwd=cwd, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def count_lines(folder: Path) -> Dict[str, int]:
    files = [p for p in folder.rglob("*") if p.suffix in (".py", ".ipynb")]
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    return {"files": len(files), "lines": lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, help="reuse (or create) the corpus here")
    args = parser.parse_args()

    ruff = shutil.which("ruff")
    if ruff is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "ruff"], check=True)
        ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    environment = Path(tempfile.mkdtemp(prefix="kerascheck-venv-"))
    program = [str(install_kerascheck(environment))]
    kerascheck = [*program, "check", "--exit-zero", "--output-format", "concise"]

    corpus = args.corpus or Path(tempfile.mkdtemp(prefix="kerascheck-bench-"))
    if not any(corpus.rglob("*.py")):
        print(f"assembling the corpus in {corpus} ...", flush=True)
        assemble_corpus(corpus)
    size = count_lines(corpus)
    single = Path(tempfile.mkdtemp(prefix="kerascheck-one-")) / "train.py"
    one_thousand_line_file(single)
    flagged = single.with_name("train_flagged.py")
    one_thousand_line_file(flagged, with_finding=True)

    names = (
        "cold",
        "warm",
        "ruff",
        "one_file",
        "one_file_with_finding",
        "daemon_one_file_edited",
        "daemon_one_file_with_finding_edited",
        "daemon_one_file_first_sight",
    )
    results: Dict[str, List[float]] = {name: [] for name in names}
    subprocess.run([*kerascheck, "."], cwd=corpus, stdout=subprocess.DEVNULL)  # fill the cache
    runtime = Path(tempfile.mkdtemp(prefix="kcb-", dir="/tmp" if os.name == "posix" else None))
    daemon_environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    through_daemon = [*kerascheck, "--daemon", "--no-cache"]
    quietly = {"env": daemon_environment, "stdout": subprocess.DEVNULL}
    subprocess.run([*program, "daemon", "start"], check=True, **quietly)
    for path in (single, flagged):  # the daemon's first sight of them, not timed
        subprocess.run([*through_daemon, str(path)], **quietly)
    for run in range(args.runs):
        results["ruff"].append(timed([ruff, "check", "--no-cache", "--exit-zero", "--quiet", "."], corpus))
        results["cold"].append(timed([*kerascheck, "--no-cache", "."], corpus))
        results["warm"].append(timed([*kerascheck, "."], corpus))
        results["one_file"].append(timed([*kerascheck, "--no-cache", str(single)], single.parent))
        results["one_file_with_finding"].append(
            timed([*kerascheck, "--no-cache", str(flagged)], single.parent)
        )
        for name, path in (
            ("daemon_one_file_edited", single),
            ("daemon_one_file_with_finding_edited", flagged),
        ):
            edit_one_line(path, run)
            command = [*through_daemon, str(path)]
            results[name].append(timed(command, path.parent, daemon_environment))
        fresh = single.with_name(f"train_copy_{run}.py")
        shutil.copy(flagged, fresh)
        results["daemon_one_file_first_sight"].append(
            timed([*through_daemon, str(fresh)], single.parent, daemon_environment)
        )
    subprocess.run([*program, "daemon", "stop"], **quietly)
    shutil.rmtree(runtime, ignore_errors=True)
    memory = peak_memory_mib([*kerascheck, "--no-cache", "."], corpus)
    shutil.rmtree(environment, ignore_errors=True)
    shutil.rmtree(single.parent, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in results.items()}
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "corpus": size,
        "runs": args.runs,
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "cold_vs_ruff": round(median["cold"] / median["ruff"], 2),
        "warm_vs_ruff": round(median["warm"] / median["ruff"], 2),
        "peak_memory_mib": round(memory, 1),
        "one_1000_line_file_ms": round(median["one_file"] * 1000),
        "one_1000_line_file_with_a_finding_ms": round(median["one_file_with_finding"] * 1000),
        "daemon_one_1000_line_file_edited_ms": round(median["daemon_one_file_edited"] * 1000),
        "daemon_one_1000_line_file_with_a_finding_edited_ms": round(
            median["daemon_one_file_with_finding_edited"] * 1000
        ),
        "daemon_first_sight_of_a_1000_line_file_ms": round(
            median["daemon_one_file_first_sight"] * 1000
        ),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
