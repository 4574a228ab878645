"""The seed programs in ``examples/``, checked and fixed as a new user would: each bug is
found once, where its fix goes; the fixed versions stay silent; ``--fix --unsafe-fixes``
repairs each program the way the seed's own fix does, and a re-check is clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import libcst as cst

from .conftest import REPO, run_cli

EXAMPLES = REPO / "examples"


def findings(folder: Path, *paths: str):
    result = run_cli("check", *paths, "--no-cache", "--output-format", "json", cwd=folder)
    return [(item["filename"], item["location"]["row"], item["code"]) for item in json.loads(result.stdout)]


def test_each_seed_bug_is_found_where_its_fix_goes():
    assert findings(EXAMPLES, ".") == [
        ("seed000_model_alias.py", 21, "KC001"),
        ("seed001_generator_and_lambda.py", 17, "KC002"),
        ("seed001_generator_and_lambda.py", 38, "KC003"),
        ("seed002_stateful_lstm.py", 26, "KC004"),
    ]


def test_fix_repairs_every_seed_program(tmp_path: Path):
    for program in EXAMPLES.glob("*.py"):
        shutil.copy(program, tmp_path / program.name)
    result = run_cli("check", ".", "--fix", "--unsafe-fixes", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fixed 4 problems." in result.stderr
    alias = (tmp_path / "seed000_model_alias.py").read_text(encoding="utf-8")
    assert "    model_copy = keras.models.clone_model(model)\n" in alias
    generator = (tmp_path / "seed001_generator_and_lambda.py").read_text(encoding="utf-8")
    assert "        yield [x.copy()], [x_mean_ex]\n" in generator
    assert "Lambda(lambda x: K.expand_dims(calc_mean(x), -1), output_shape=(1,))" in generator
    stateful = (tmp_path / "seed002_stateful_lstm.py").read_text(encoding="utf-8")
    assert stateful.endswith(
        "    model.fit(x_train, y_train, epochs=1, batch_size=batch_size, verbose=2, shuffle=False)\n"
        "    for layer in model.layers:\n"
        '        if getattr(layer, "stateful", False):\n'
        "            layer.reset_states()\n"
    )
    for program in tmp_path.glob("*.py"):
        cst.parse_module(program.read_text(encoding="utf-8"))
    assert findings(tmp_path, ".") == []
    # The fixed versions the seeds give were never touched.
    for program in EXAMPLES.glob("*_fixed.py"):
        assert (tmp_path / program.name).read_bytes() == program.read_bytes()
