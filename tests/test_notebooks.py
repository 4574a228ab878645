"""Jupyter notebooks: cells linted as one program, IPython syntax masked without shifting
rows, positions reported as (cell among all cells, row in the cell), fixes that rewrite
only the changed cells' sources."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from kerascheck.engine.notebook import fix_notebook, lint_notebook, mask_cell
from kerascheck.registry import resolve_selection

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
CODES = resolve_selection()
IMPORT = "from tensorflow import keras"
FLAGGED = "opt = keras.optimizers.SGD(lr=0.1)"  # KC006 at column 27 (0-based)


def read(name: str) -> bytes:
    return (NOTEBOOKS / name).read_bytes()


def code(source, **extra) -> dict:
    """A code cell; ``source`` is a string or a list of lines, as in the file."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
        **extra,
    }


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(*cells: dict, metadata: Optional[dict] = None) -> bytes:
    """Bytes exactly as Jupyter writes a notebook."""
    document = {
        "cells": list(cells),
        "metadata": metadata or {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode()


def where(data: bytes, codes=CODES) -> List[Tuple[Optional[int], int, int, str]]:
    """(cell, row, column, code) of every finding."""
    return [
        (d.cell, d.start.row, d.start.column, d.code)
        for d in lint_notebook(data, "nb.ipynb", codes)
    ]


# ---- cells as one program, positions in cells ----------------------------------------------


def test_realistic_notebook_reports_cell_and_row():
    diagnostics = lint_notebook(read("training.ipynb"), "training.ipynb", CODES)
    # Cell 7 is the 7th cell counting markdown; row 5 counts the %%time line. In cell 10,
    # the first `lr=` carries `# noqa: KC006`; the %%writefile cell 8 is not Python.
    assert [(d.cell, d.start.row, d.start.column, d.code) for d in diagnostics] == [
        (7, 5, 31, "KC006"),
        (10, 6, 30, "KC006"),
    ]
    first, second = diagnostics
    assert first.source_line == first.end_source_line == "    opt = keras.optimizers.SGD(lr=rate)"
    assert second.source_line == "final = keras.optimizers.Adam(lr=1e-3)"
    assert [(e.cell, e.start.row, e.start.column) for e in first.fix.edits] == [(7, 5, 31)]


def test_a_name_imported_in_one_cell_is_known_in_a_later_one():
    assert where(notebook(code(IMPORT), markdown("Optimizer:"), code(FLAGGED))) == [
        (3, 1, 27, "KC006")
    ]
    # Without the import cell the name is not Keras, and the rule stays silent.
    assert where(notebook(markdown("Optimizer:"), code(FLAGGED))) == []


def test_string_sources_missing_outputs_and_empty_cells():
    # Sources as one string, no `outputs`/`execution_count`, an empty code cell (3), no
    # language metadata at all (read as Python).
    assert where(read("string_sources.ipynb")) == [(4, 1, 27, "KC006")]


def test_list_source_without_trailing_newline_does_not_merge_with_next_cell():
    data = notebook(code([IMPORT]), code(["x = 1"]), code([FLAGGED]))
    assert where(data) == [(3, 1, 27, "KC006")]


def test_row_is_within_the_cell_not_the_notebook():
    data = notebook(code(IMPORT + "\nimport numpy as np\n\n"), code("x = np.ones(3)\n\n" + FLAGGED))
    assert where(data) == [(2, 3, 27, "KC006")]


def test_rule_messages_name_lines_within_the_cell():
    (finding, _) = lint_notebook(read("generators.ipynb"), "generators.ipynb", CODES)
    assert (finding.code, finding.cell, finding.start.row) == ("KC002", 3, 6)
    # The program rows 4 and 7 are rows 2 and 5 of cell 3.
    assert "(line 2)" in finding.message and "(line 5)" in finding.message


def test_generator_and_optimizer_findings_in_different_cells():
    assert where(read("generators.ipynb")) == [(3, 6, 8, "KC002"), (5, 2, 46, "KC006")]


def test_stateful_model_built_in_one_cell_and_trained_in_a_later_one():
    # Cell 5 builds a stateful LSTM, cell 7 (under %%time) fits it epoch by epoch.
    assert where(read("stateful_lstm.ipynb")) == [(7, 3, 4, "KC004")]


def test_unsafe_fix_inserting_lines_keeps_the_magics_around_it():
    data = read("stateful_lstm.ipynb")
    assert fix_notebook(data, "stateful_lstm.ipynb", CODES, False) == (data, [])
    new, fixed = fix_notebook(data, "stateful_lstm.ipynb", CODES, True)
    assert [(d.cell, d.start.row, d.code) for d in fixed] == [(7, 3, "KC004")]
    before, after = json.loads(data)["cells"], json.loads(new)["cells"]
    assert [c for c in after if c is not after[6]] == [c for c in before if c is not before[6]]
    old_source, new_source = before[6]["source"], after[6]["source"]
    assert new_source[:3] == old_source[:3] and new_source[-1] == old_source[-1]
    assert len(new_source) > len(old_source)
    assert after[6]["outputs"] == before[6]["outputs"]
    assert fix_notebook(new, "stateful_lstm.ipynb", CODES, True) == (new, [])


# ---- IPython syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ipython",
    [
        "%matplotlib inline",
        "!pip install -q keras",
        "!!ls -la",
        "files = !ls data",
        "result, other = %timeit -o sum(range(10))",
        "?keras.optimizers.SGD",
        "keras.optimizers.SGD?",
        "keras.optimizers.SGD??",
        "%pip install \\\n    keras tensorflow",
        "%load_ext autoreload",
        "pip install keras",
        "cd ../data",
        "/print 'autocall'",
        "for name in ['a', 'b']:\n    !echo {name}\n    %time len(name)",
        "get_ipython().system('nvidia-smi')",
        "if True:\n    %env CUDA_VISIBLE_DEVICES=0",
    ],
)
def test_ipython_syntax_is_masked_without_shifting_rows(ipython):
    rows = ipython.count("\n") + 1
    data = notebook(code(IMPORT), code(ipython + "\n" + FLAGGED))
    assert where(data) == [(2, rows + 1, 27, "KC006")]


@pytest.mark.parametrize(
    "python",
    [
        "steps = (len(x)\n         % 32)",
        "same = (a\n        != b)",
        "text = 'what?'",
        "doc = '''\n%not a magic\n!nor a shell escape\n'''",
        "total = 1 + \\\n    2",
        "ls -la",  # a subtraction in Python, so it stays Python
        "time = 3",
        "# %matplotlib inline",
    ],
)
def test_python_that_looks_like_ipython_is_not_masked(python):
    masked = mask_cell(python)
    assert masked is not None
    assert "\n".join(masked.lines) == python
    assert not masked.masked_rows


def test_masked_lines_keep_indentation_and_bound_names():
    masked = mask_cell(
        "for f in files:\n    !echo {f}\nresult = %timeit -o f()\n%pip install \\\n  keras\n"
    )
    assert masked.lines == ("for f in files:", "    pass", "result = ...", "pass", "")
    assert masked.masked_rows == {2, 3, 4, 5}


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 10", "%%capture captured", "\n  %%time"])
def test_python_cell_magics_keep_their_body(magic):
    data = notebook(code(IMPORT), code(f"{magic}\n{FLAGGED}"))
    assert where(data) == [(2, magic.count("\n") + 2, 27, "KC006")]


@pytest.mark.parametrize(
    "magic", ["%%bash", "%%writefile train.py", "%%html", "%%script python3", "\n%%sh"]
)
def test_other_cell_magics_are_skipped(magic):
    data = notebook(code(IMPORT), code(f"{magic}\n{FLAGGED}\nnot python: <b>{{</b>"))
    assert where(data) == []


# ---- suppression -----------------------------------------------------------------------------


def test_noqa_applies_to_its_own_cell_row_only():
    data = notebook(
        code(IMPORT + "  # noqa"),  # row 1 of cell 1 must not hide row 1 of cell 2
        code(FLAGGED),
        code(FLAGGED + "  # noqa: KC006"),
        code(FLAGGED + "  # noqa: KC002"),
    )
    assert where(data) == [(2, 1, 27, "KC006"), (4, 1, 27, "KC006")]


@pytest.mark.parametrize("comment", ["# kerascheck: noqa", "# kerascheck: noqa: KC006"])
def test_file_level_noqa_in_any_cell_covers_the_notebook(comment):
    data = notebook(code(IMPORT), code(FLAGGED), code(f"print('done')\n{comment}\n"))
    assert where(data) == []


def test_file_level_noqa_in_markdown_is_just_text():
    data = notebook(code(IMPORT), markdown("# kerascheck: noqa"), code(FLAGGED))
    assert where(data) == [(3, 1, 27, "KC006")]


# ---- languages and broken notebooks ----------------------------------------------------------


def test_r_notebook_is_skipped_silently():
    assert where(read("r_kernel.ipynb")) == []


@pytest.mark.parametrize(
    "metadata, linted",
    [
        ({}, True),
        ({"kernelspec": {"language": "python", "name": "python3"}}, True),
        ({"language_info": {"name": "Python"}}, True),
        ({"kernelspec": {"language": "julia", "name": "julia-1.10"}}, False),
        ({"language_info": {"name": "R"}, "kernelspec": {"language": "python"}}, False),
        ({"kernelspec": "not a mapping"}, True),
    ],
)
def test_only_python_notebooks_are_linted(metadata, linted):
    data = notebook(code(IMPORT), code(FLAGGED), metadata=metadata)
    assert bool(where(data)) is linted


@pytest.mark.parametrize(
    "data, row, message",
    [
        (read("broken_json.ipynb"), 34, "notebook is not valid JSON"),
        (read("not_an_object.ipynb"), 1, "notebook is a list, not a JSON object"),
        (
            read("source_not_text.ipynb"),
            1,
            "notebook cell 2 has a `source` that is a number, not text",
        ),
        (b"", 1, "notebook is not valid JSON"),
        (b"\xff\xfe{}", 1, "cannot decode notebook as UTF-8"),
        (b'{"nbformat": 3, "worksheets": []}', 1, "notebook has no `cells` list"),
        (b'{"cells": [["source"]]}', 1, "notebook cell 1 is a list, not a JSON object"),
        (b'{"cells": [{"cell_type": "code"}]}', 1, "notebook cell 1 has no `source`"),
        (
            b'{"cells": [{"cell_type": "markdown", "source": ["a", 1]}]}',
            1,
            "a list with a non-text line",
        ),
        (b"[" * 100_000, 1, "notebook"),
    ],
)
def test_malformed_notebook_is_one_kc900(data, row, message):
    (finding,) = lint_notebook(data, "nb.ipynb", CODES)
    assert (finding.code, finding.cell, finding.start.row) == ("KC900", None, row)
    assert message in finding.message
    assert fix_notebook(data, "nb.ipynb", CODES, True) == (data, [])


def test_malformed_notebook_is_silent_when_kc900_is_not_selected():
    assert where(read("not_an_object.ipynb"), codes=("KC006",)) == []


def test_syntax_error_is_reported_in_its_cell():
    # A training script (a model, an alias and a `fit` through it make it one a rule could
    # report on).
    broken = code("model = keras.Sequential()\ntuned = model\ntuned.fit(x,\n")
    data = notebook(code(IMPORT), markdown("Broken:"), broken, code("y = 2"))
    (finding,) = lint_notebook(data, "nb.ipynb", CODES)
    assert (finding.code, finding.cell, finding.start.row) == ("KC900", 3, 3)
    assert finding.source_line == "tuned.fit(x,"


def test_truncated_notebooks_never_raise():
    data = read("training.ipynb")
    for end in range(0, len(data), 61):
        for finding in lint_notebook(data[:end], "nb.ipynb", CODES):
            assert finding.code == "KC900"


# ---- fixes -----------------------------------------------------------------------------------


def changed_lines(old: bytes, new: bytes) -> List[str]:
    diff = difflib.ndiff(old.decode().splitlines(True), new.decode().splitlines(True))
    return [line[0] + line[2:] for line in diff if line[:1] in "-+"]


def test_fix_rewrites_only_the_fixed_cells_sources():
    data = read("training.ipynb")
    new, fixed = fix_notebook(data, "training.ipynb", CODES, False)
    assert [(d.cell, d.start.row, d.code) for d in fixed] == [(7, 5, "KC006"), (10, 6, "KC006")]
    assert changed_lines(data, new) == [
        '-    "    opt = keras.optimizers.SGD(lr=rate)\\n",\n',
        '+    "    opt = keras.optimizers.SGD(learning_rate=rate)\\n",\n',
        '-    "final = keras.optimizers.Adam(lr=1e-3)\\n",\n',
        '+    "final = keras.optimizers.Adam(learning_rate=1e-3)\\n",\n',
    ]
    before, after = json.loads(data), json.loads(new)
    for number, (old_cell, new_cell) in enumerate(zip(before["cells"], after["cells"]), start=1):
        if number not in (7, 10):
            assert old_cell == new_cell
        assert old_cell.get("outputs") == new_cell.get("outputs")
        assert old_cell["metadata"] == new_cell["metadata"]
    assert fix_notebook(new, "training.ipynb", CODES, False) == (new, [])
    assert where(new) == []


def test_fix_keeps_another_tools_layout():
    data = read("string_sources.ipynb")  # two-space indentation, unsorted keys, no final newline
    new, _ = fix_notebook(data, "string_sources.ipynb", CODES, False)
    assert changed_lines(data, new) == [
        '-      "source": "opt = keras.optimizers.SGD(lr=0.1)\\nmomentum = 0.9"\n',
        '+      "source": "opt = keras.optimizers.SGD(learning_rate=0.1)\\nmomentum = 0.9"\n',
    ]
    assert not new.endswith(b"\n")


def test_fix_keeps_bom_crlf_and_ascii_escapes():
    document = {
        "cells": [markdown("Température 🙂"), code(IMPORT + "\n"), code([FLAGGED])],
        "metadata": {},
    }
    text = json.dumps(document, indent=1, ensure_ascii=True).replace("\n", "\r\n") + "\r\n"
    data = b"\xef\xbb\xbf" + text.encode()
    new, fixed = fix_notebook(data, "nb.ipynb", CODES, False)
    assert [d.cell for d in fixed] == [3]
    assert new == data.replace(b"(lr=", b"(learning_rate=")


def test_fix_keeps_list_sources_one_line_per_item():
    # KC002's fix changes a multi-line cell; the list keeps one item per line.
    new, _ = fix_notebook(read("generators.ipynb"), "generators.ipynb", ("KC002",), False)
    source = json.loads(new)["cells"][2]["source"]
    assert source[-1] == "        yield x.copy(), x.mean(axis=1)"
    assert all(line.endswith("\n") for line in source[:-1])


def test_fix_leaves_unfixable_notebooks_alone():
    for name in ("r_kernel.ipynb", "broken_json.ipynb"):
        data = read(name)
        assert fix_notebook(data, name, CODES, True) == (data, [])


def test_fix_does_not_touch_suppressed_findings():
    data = notebook(code(IMPORT), code(FLAGGED + "  # noqa"))
    assert fix_notebook(data, "nb.ipynb", CODES, True) == (data, [])


# ---- end to end, through the command ---------------------------------------------------------


def run_check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kerascheck", "check", "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("training.ipynb", "r_kernel.ipynb", "not_an_object.ipynb"):
        (tmp_path / name).write_bytes(read(name))
    return tmp_path


def test_cli_concise_output(project: Path):
    result = run_check("--output-format", "concise", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == [
        "not_an_object.ipynb:1:1: KC900 notebook is a list, not a JSON object: not analyzed",
        "training.ipynb:cell 10:6:31: KC006 `Adam(lr=...)`: tf-keras 2.11+ ignores `lr` and "
        "trains at the default learning rate, Keras 3 rejects it; pass `learning_rate=`",
        "training.ipynb:cell 7:5:32: KC006 `SGD(lr=...)`: tf-keras 2.11+ ignores `lr` and "
        "trains at the default learning rate, Keras 3 rejects it; pass `learning_rate=`",
    ]


def test_cli_json_output(project: Path):
    result = run_check("--output-format", "json", "training.ipynb", cwd=project)
    findings = json.loads(result.stdout)
    assert [(f["filename"], f["cell"], f["location"], f["code"]) for f in findings] == [
        ("training.ipynb", 7, {"row": 5, "column": 32}, "KC006"),
        ("training.ipynb", 10, {"row": 6, "column": 31}, "KC006"),
    ]
    assert findings[0]["fix"]["edits"][0]["location"] == {"row": 5, "column": 32}


def test_cli_fix_writes_the_notebook(project: Path):
    path = project / "training.ipynb"
    before = path.read_bytes()
    result = run_check("--fix", "training.ipynb", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    after = path.read_bytes()
    assert len(changed_lines(before, after)) == 4
    assert json.loads(after)["cells"][6]["outputs"] == json.loads(before)["cells"][6]["outputs"]
    assert run_check("--fix", "training.ipynb", cwd=project).returncode == 0
    assert path.read_bytes() == after


# ---- line breaks other than "\n" inside a cell -----------------------------------------------

# Python and libcst end a row at "\r\n" and at a lone "\r" as at "\n", so the rows reported
# are the same for each.
LINE_BREAKS = {"lone CR": "\r", "CRLF": "\r\n"}


def broken_by(line_break: str, flagged: str = FLAGGED) -> bytes:
    """A notebook whose flagged calls follow rows ending in ``line_break``: one in cell 2
    (whose source is a list, split as nbformat splits it, and ends with a line break), one
    in cell 3 (a string without a final line break)."""
    second = line_break.join(["x = 1", "y = 2", flagged, ""])
    third = line_break.join([flagged, "z = 3"])
    return notebook(code(IMPORT + "\n"), code(second.splitlines(True)), code(third))


@pytest.mark.parametrize("line_break", LINE_BREAKS.values(), ids=LINE_BREAKS.keys())
def test_rows_after_a_carriage_return_are_the_rows_python_sees(line_break: str):
    expected = [(2, 3, 27, "KC006"), (3, 1, 27, "KC006")]
    assert where(broken_by(line_break)) == where(broken_by("\n")) == expected
    first, _ = lint_notebook(broken_by(line_break), "nb.ipynb", CODES)
    assert first.source_line == FLAGGED + line_break[:-1]  # "\r\n" leaves its "\r" in the row


def test_a_lone_carriage_return_ends_an_ipython_line():
    masked = mask_cell("!pip install keras\rimport numpy as np\n")
    assert masked.lines == ("pass", "import numpy as np")
    assert masked.masked_rows == {1}


@pytest.mark.parametrize("line_break", LINE_BREAKS.values(), ids=LINE_BREAKS.keys())
def test_cli_rows_and_fix_round_trip_with_carriage_returns(tmp_path: Path, line_break: str):
    (tmp_path / "plain.ipynb").write_bytes(broken_by("\n"))
    (tmp_path / "broken.ipynb").write_bytes(broken_by(line_break))

    def located(name: str) -> List[tuple]:
        result = run_check("--output-format", "json", name, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        return [(f["cell"], f["location"], f["code"]) for f in json.loads(result.stdout)]

    expected = [(2, {"row": 3, "column": 28}, "KC006"), (3, {"row": 1, "column": 28}, "KC006")]
    assert located("broken.ipynb") == located("plain.ipynb") == expected
    result = run_check("--fix", "--unsafe-fixes", "broken.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the fixed spans changed: every other byte, each line break included, and the
    # list source's items are as they were.
    fixed = broken_by(line_break, FLAGGED.replace("(lr=", "(learning_rate="))
    assert (tmp_path / "broken.ipynb").read_bytes() == fixed
    assert run_check("--fix", "--unsafe-fixes", "broken.ipynb", cwd=tmp_path).returncode == 0
    assert (tmp_path / "broken.ipynb").read_bytes() == fixed
