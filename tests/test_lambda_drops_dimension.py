"""KC003 beyond its snippets: the seed program, and the help spelled for the file's Keras."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kerascheck.engine.lint import lint_text

SEEDS = Path("/work/shared/seeds/programs")


def _findings(code: str):
    return lint_text(textwrap.dedent(code), "model.py", ("KC003",))


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed programs not available")
def test_seed_program_gives_one_finding_at_the_lambda_and_its_fix_none():
    buggy = (SEEDS / "seed001_generator_and_lambda.py").read_text(encoding="utf-8")
    fixed = (SEEDS / "seed001_generator_and_lambda_fixed.py").read_text(encoding="utf-8")
    assert [(d.start.row, d.code) for d in lint_text(buggy, "seed.py", ("KC003",))] == [
        (38, "KC003")
    ]
    assert lint_text(fixed, "seed.py", ("KC003",)) == []


BODY = """\
x = Input(shape=(2,))
y = Lambda(lambda t: t[:, 0] - t[:, 1], output_shape=(1,))(x)
"""


@pytest.mark.parametrize(
    "imports,spelled",
    [
        # Keras 2 (backend math in use): the backend the file imports.
        (
            "import keras.backend as K\nfrom keras.layers import Input, Lambda\n"
            "z = K.mean(x)\n",
            "`K.expand_dims(..., -1)`",
        ),
        # Keras 3 (keras.ops in use).
        (
            "from keras import layers, ops\nfrom keras.layers import Input, Lambda\n"
            "z = ops.mean(x)\n",
            "`ops.expand_dims(..., -1)`",
        ),
        # Unknown flavour, TensorFlow imported: works with either tf.keras.
        (
            "import tensorflow as tf\nfrom tensorflow.keras.layers import Input, Lambda\n",
            "`tf.expand_dims(..., -1)`",
        ),
        # Unknown flavour, nothing that spells it: both Keras named.
        (
            "from keras.layers import Input, Lambda\n",
            "`keras.ops.expand_dims(..., -1)` (Keras 3; `K.expand_dims` in Keras 2)",
        ),
    ],
    ids=["keras2", "keras3", "tensorflow", "unknown"],
)
def test_help_spells_expand_dims_for_the_files_keras(imports, spelled):
    [finding] = _findings(imports + BODY)
    assert finding.help.endswith(spelled)
    assert "keepdims=True" in finding.help and "x[:, 0:1]" in finding.help


def test_extra_axis_gets_no_fix_and_its_own_help():
    [finding] = _findings(
        """\
        from keras.layers import Input, Lambda
        x = Input(shape=(4,))
        y = Lambda(lambda t: t[:, :, None], output_shape=(4,))(x)
        """
    )
    assert finding.fix is None
    assert "declare the shape it returns" in finding.help


def test_message_never_claims_the_compiled_loss_is_wrong():
    [finding] = _findings("from keras.layers import Input, Lambda\n" + BODY)
    assert "compile" not in finding.message and "directly called loss" in finding.message


def test_layer_applied_twice_is_reported_once_at_its_construction():
    findings = _findings(
        """\
        from keras.layers import Input, Lambda
        a = Input(shape=(3,))
        b = Input(shape=(3,))
        first = Lambda(lambda t: t[:, 0], output_shape=(1,))
        u = first(a)
        v = first(b)
        """
    )
    assert [d.start.row for d in findings] == [4]


def test_fix_in_a_def_edits_its_return():
    code = """\
    import keras
    from keras.layers import Input, Lambda

    def first(t):
        picked = t[:, 0]
        return picked

    y = Lambda(first, output_shape=(1,))(Input(shape=(2,)))
    """
    [finding] = _findings(code)
    [edit] = finding.fix.edits
    assert (edit.start.row, edit.content) == (6, "keras.ops.expand_dims(picked, -1)")
