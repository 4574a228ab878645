"""Unit tests of the tensor-rank inference (kerascheck/semantics/ranks.py)."""

from __future__ import annotations

import textwrap
from typing import Optional

import libcst as cst
import pytest

from kerascheck.semantics import Semantics
from kerascheck.semantics.ranks import EVERY_AXIS

HEADER = """\
import numpy as np
import tensorflow as tf
import keras
from keras import ops
import keras.backend as K
from keras.layers import Concatenate, Dense, Flatten, Input, Lambda, Reshape
x2 = Input(shape=(4,))
x3 = Input(shape=(10, 4))
"""


class _Find(cst.CSTVisitor):
    def __init__(self, module: cst.Module, text: str) -> None:
        self.module, self.text, self.found = module, text, None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if (
            self.found is None
            and isinstance(node, cst.BaseExpression)
            and self.module.code_for_node(node) == self.text
        ):
            self.found = node
        return self.found is None


def _parse(code: str):
    module = cst.parse_module(HEADER + textwrap.dedent(code))
    return module, Semantics(module)


def _node(module: cst.Module, text: str) -> cst.BaseExpression:
    finder = _Find(module, text)
    module.visit(finder)
    assert finder.found is not None, f"{text!r} not in the code"
    return finder.found


def rank_of(code: str, expr: Optional[str] = None) -> Optional[int]:
    """The rank of ``expr`` (by default the value of ``result = ...``) in ``code``."""
    module, semantics = _parse(code)
    if expr is None:
        assignment = _node(module, "result")
        expr_node = next(
            s.value
            for s in _assignments(module)
            if any(t.target is assignment for t in s.targets)
        )
    else:
        expr_node = _node(module, expr)
    return semantics.ranks.rank_of(expr_node)


def _assignments(module: cst.Module):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            found.append(node)

    module.visit(Collect())
    return found


@pytest.mark.parametrize(
    "expr,expected",
    [
        # sources
        ("x2", 2),
        ("x3", 3),
        ("Input(batch_shape=(None, 5))", 2),
        ("Input((3, 4, 5))", 4),
        ("keras.Input(shape=[7])", 2),
        ("Input(shape=unknown_shape)", None),
        ("Input(shape=(2,), tensor=t)", None),
        ("3.5", 0),
        # indexing
        ("x2[:, 0]", 1),
        ("x2[::, 1]", 1),
        ("x2[:, 0:1]", 2),
        ("x2[:, -1]", 1),
        ("x3[..., 0]", 2),
        ("x3[:, None]", 4),
        ("x2[np.newaxis]", 3),
        ("x2[:, tf.newaxis, :]", 3),
        ("x3[0]", 2),
        ("x2[:, :, :]", None),
        ("x2[:, idx]", None),
        ("x3[..., 0, ...]", None),
        ("x2[mask]", None),
        # reductions, with each API's default axis
        ("K.sum(x2)", 0),
        ("K.sum(x3, axis=1)", 2),
        ("K.sum(x3, axis=(1, 2))", 1),
        ("K.mean(x3, 1, True)", 3),
        ("K.max(x3, axis=None)", 0),
        ("K.argmax(x3)", 2),
        ("ops.argmax(x3)", 0),
        ("ops.argmax(x3, axis=-1, keepdims=True)", 3),
        ("tf.argmax(x3)", 2),
        ("keras.ops.mean(x3, axis=-1)", 2),
        ("ops.norm(x3, axis=-1)", 2),
        ("ops.norm(x3)", 0),
        ("tf.reduce_mean(x3, axis=-1, keepdims=True)", 3),
        ("tf.math.reduce_std(x3, axis=[1, 2])", 1),
        ("tf.reduce_logsumexp(x3, 1)", 2),
        ("tf.norm(x2, axis=1)", 1),
        ("np.mean(x3, axis=1)", 2),
        ("np.sum(x3, 1, None, None, True)", None),
        ("np.linalg.norm(x3, axis=-1)", 2),
        ("x3.sum(axis=1)", 2),
        ("x3.mean(-1, keepdim=True)", 3),
        ("x3.max()", 0),
        ("x3.max(1)", None),
        ("K.sum(x3, axis=some_axis)", None),
        ("K.sum(unknown)", 0),
        ("K.sum(unknown, keepdims=True)", None),
        ("K.sum(x3, keepdims=flag)", None),
        ("tf.reduce_sum(x3, keep_dims=True)", None),
        ("K.argmax(x3, keepdims=True)", None),
        # shape functions
        ("K.expand_dims(x2)", 3),
        ("K.expand_dims(x2, -1)", 3),
        ("tf.expand_dims(x2)", None),
        ("ops.expand_dims(x2, (1, 2))", 4),
        ("np.expand_dims(x2, axis=0)", 3),
        ("K.squeeze(x3, 1)", 2),
        ("tf.squeeze(x3)", None),
        ("K.reshape(x3, (-1, 40))", 2),
        ("tf.reshape(unknown, [-1])", 1),
        ("K.stack([x2, x2], axis=1)", 3),
        ("K.concatenate([x2, x2])", 2),
        ("tf.concat([x3, x3], axis=-1)", 3),
        ("K.concatenate([x2, x3])", None),
        ("np.concatenate([x2, x2], axis=None)", None),
        ("K.batch_flatten(x3)", 2),
        ("keras.layers.concatenate([x2, x2])", 2),
        # elementwise
        ("x2 + x3", 3),
        ("2 * x2", 2),
        ("-x2", 2),
        ("(x2[:, 0] + x2[:, 1]) / 2", 1),
        ("K.exp(x2)", 2),
        ("K.maximum(x2, x3)", 3),
        ("K.clip(x2, K.epsilon(), 1.0)", 2),
        ("tf.nn.softmax(x3, axis=-1)", 3),
        ("keras.activations.relu(x3)", 3),
        ("K.l2_normalize(x2, axis=-1)", 2),
        ("K.cast(x2, 'float32')", 2),
        ("x2 @ x2", None),
        ("not x2", None),
        ("unknown_function(x2)", None),
        ("x2.shape", None),
        ("x2 if flag else x3", None),
        ("x2 if flag else x2 * 2", 2),
        # layers
        ("Dense(3)(x3)", 3),
        ("Flatten()(x3)", 2),
        ("Reshape((2, 2))(x2)", 3),
        ("Concatenate()([x2, x2])", 2),
        ("Concatenate()([x2, x3])", None),
        ("Lambda(lambda t: t[:, 0])(x2)", 1),
        ("Lambda(lambda t: t[0] * t[1])([x2, x3])", 3),
        ("Lambda(lambda t, axis: K.sum(t, axis=axis), arguments={'axis': 1})(x3)", 2),
        ("Lambda(lambda t, axis: K.sum(t, axis=axis), arguments=options)(x3)", None),
        ("keras.layers.LSTM(4)(x3)", 2),
        ("keras.layers.LSTM(4, return_sequences=True)(x3)", 3),
        ("keras.layers.GRU(4, return_state=True)(x3)", None),
        ("keras.layers.LSTM(4)(unknown)", 2),
        ("keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x3)", 3),
        ("keras.layers.Bidirectional(keras.layers.LSTM(4), merge_mode=None)(x3)", None),
        ("keras.layers.Conv1D(8, 3)(x3)", 3),
        ("keras.layers.GlobalAveragePooling1D()(x3)", 2),
        ("keras.layers.GlobalMaxPooling1D(keepdims=True)(x3)", None),
        ("Flatten()(unknown)", 2),
        ("keras.layers.Embedding(100, 8)(x2)", 3),
        ("keras.layers.TimeDistributed(Dense(3))(x3)", None),
        ("Dense(3)(unknown)", None),
    ],
)
def test_expression_rank(expr, expected):
    assert rank_of(f"result = {expr}\n") == expected


# ---- names: flow-sensitive, straight-line only ---------------------------------------


def test_reassignment_reads_the_latest_value_before_the_use():
    code = """\
    y = x2[:, 0]
    y = K.expand_dims(y)
    result = y
    """
    assert rank_of(code) == 2


def test_later_assignments_do_not_count():
    code = """\
    y = x2
    result = y
    y = x3
    """
    assert rank_of(code) == 2


@pytest.mark.parametrize(
    "code",
    [
        "if flag:\n    y = x2\nelse:\n    y = x3\nresult = y\n",
        "for i in range(3):\n    y = x2\nresult = y\n",
        "(y, z), w = pairs\nresult = y\n",
        "y = x2\ny += 1\nresult = y\n",
        "result = y\n",
    ],
    ids=["branch", "loop", "nested-unpacking", "augmented", "unbound"],
)
def test_names_bound_otherwise_are_unknown(code):
    assert rank_of(code) is None


def test_a_plain_assignment_after_a_branch_clears_the_name_again():
    code = """\
    x = x3
    if deep:
        x = Dense(8)(x)
    x = keras.layers.LSTM(4)(x)
    result = x
    """
    assert rank_of(code) == 2  # an LSTM's output rank does not depend on its input's
    assert rank_of(code.replace("LSTM(4)", "Dropout(0.5)")) is None


def test_a_name_rebound_in_the_loop_being_read_is_unknown():
    code = """\
    x = x3
    for i in range(3):
        result = x
        x = Flatten()(x)
    """
    assert rank_of(code) is None


def test_global_declarations_make_a_name_unknown():
    code = """\
    y = x2
    def reset():
        global y
        y = None
    result = y
    """
    assert rank_of(code) is None


def test_local_assignments_of_the_enclosing_function():
    code = """\
    def build():
        x = Input(name="x", shape=(2,))
        result = x[:, 0]
        return result
    """
    assert rank_of(code) == 1


def test_parameters_of_the_enclosing_function_are_unknown():
    assert rank_of("def build(x):\n    result = x[:, 0]\n") is None


def test_lambda_and_comprehension_variables_hide_outer_names():
    assert rank_of("f = lambda x2: x2[:, 0]\n", "x2[:, 0]") is None
    assert rank_of("r = [x3[:, 0] for x3 in items]\n", "x3[:, 0]") is None


def test_unpacking_binds_items_in_order():
    code = """\
    def distance(vects):
        x, y = vects
        return K.sqrt(K.sum(K.square(x - y), axis=1))
    result = Lambda(distance)([x2, x2])
    """
    assert rank_of(code) == 1
    assert rank_of("a, b = x2, x3\nresult = b\n") == 3
    assert rank_of("a, *b = x2, x3\nresult = a\n") is None


def test_layer_bound_to_a_name():
    assert rank_of("layer = Dense(3)\nresult = layer(x3)\n") == 3


def test_chained_lambda_layers():
    code = """\
    means = Lambda(lambda t: K.mean(t, axis=-1))(x3)
    result = Dense(2)(Lambda(lambda t: K.expand_dims(t))(means))
    """
    assert rank_of(code) == 3


# ---- functions ----------------------------------------------------------------------


def test_def_called_with_a_tensor_and_a_default():
    code = """\
    def total(t, axis=1):
        return K.sum(t, axis=axis)
    result = total(x3)
    other = total(x3, axis=(1, 2))
    """
    assert rank_of(code) == 2
    assert rank_of(code, "total(x3, axis=(1, 2))") == 1


def test_module_constant_read_inside_a_function():
    code = "AXIS = 1\ndef f(t):\n    return K.sum(t, axis=AXIS)\nresult = f(x3)\n"
    assert rank_of(code) == 2
    twice = "AXIS = 1\nAXIS = 2\ndef f(t):\n    return K.sum(t, axis=AXIS)\nresult = f(x3)\n"
    assert rank_of(twice) is None


def test_returns_of_one_rank_agree():
    code = """\
    def f(t):
        if flag:
            return t[:, 0]
        return t[:, 1]
    result = f(x2)
    """
    assert rank_of(code) == 1


@pytest.mark.parametrize(
    "body",
    [
        "    if flag:\n        return t[:, 0]\n    return t\n",  # two ranks
        "    if flag:\n        return t\n",  # may end without return
        "    yield t\n",  # a generator
        "    return f(t)\n",  # recursion
    ],
    ids=["different-ranks", "no-final-return", "generator", "recursion"],
)
def test_functions_without_one_result_are_unknown(body):
    assert rank_of("def f(t):\n" + body + "result = f(x2)\n") is None


def test_decorated_functions_are_unknown():
    assert rank_of("@wrap\ndef f(t):\n    return t\nresult = f(x2)\n") is None


def test_long_chains_stay_fast_and_bounded():
    chain = "y = x2\n" + "y = y + y\n" * 300 + "result = y\n"
    assert rank_of(chain) is None  # deeper than the inference follows
    short = "y = x2\n" + "y = y + y\n" * 30 + "result = y\n"
    assert rank_of(short) == 2


# ---- the queries the fixes use -------------------------------------------------------


def _reduction(code: str, call_text: str):
    module, semantics = _parse(code)
    call = _node(module, call_text)
    return semantics.ranks.reduction(call, semantics.ranks.frame_of(call))


def test_reduction_reads_axes_and_keepdims():
    reduction = _reduction("r = K.sum(x3, axis=1)\n", "K.sum(x3, axis=1)")
    assert (reduction.axes_removed, reduction.keepdims, reduction.keepdims_keyword) == (
        1,
        False,
        "keepdims",
    )
    every = _reduction("r = ops.mean(x3, keepdims=False)\n", "ops.mean(x3, keepdims=False)")
    assert every.axes_removed == EVERY_AXIS and every.keepdims_arg is not None
    torch = _reduction("r = x3.sum(dim=2)\n", "x3.sum(dim=2)")
    assert torch.keepdims_keyword == "keepdim"
    assert _reduction("r = K.argmax(x3)\n", "K.argmax(x3)").keepdims_keyword is None
    assert _reduction("r = K.exp(x3)\n", "K.exp(x3)") is None


@pytest.mark.parametrize(
    "subscript,expected",
    [
        ("x3[:, :, 2]", 2),
        ("x3[..., -1]", -1),
        ("x3[:, 0]", 0),
        ("x3[0]", None),  # the batch axis: slicing it is no fix
        ("x3[:, 0, 1]", None),
        ("x3[:, None, 0]", None),
    ],
)
def test_sole_integer_index(subscript, expected):
    module, semantics = _parse(f"r = {subscript}\n")
    node = _node(module, subscript)
    found = semantics.ranks.sole_integer_index(node, semantics.ranks.frame_of(node))
    assert (found[1] if found else None) == expected


def test_applied_lambda_and_its_returns():
    code = """\
    def calc_mean(x):
        res = (x[::, 0] + x[::, 1]) / 2
        return res
    layer = Lambda(calc_mean, output_shape=(1,))
    out = layer(x2)
    """
    module, semantics = _parse(code)
    application = semantics.ranks.applied_lambda(_node(module, "layer(x2)"))
    assert application.inputs == 2
    assert application.result.rank == 1
    assert [module.code_for_node(r.expr) for r in application.result.returns] == ["res"]
    assert module.code_for_node(application.layer).startswith("Lambda(calc_mean")
    construction = _node(module, "Lambda(calc_mean, output_shape=(1,))")
    assert semantics.ranks.applied_lambda(construction) is None
