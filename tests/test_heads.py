"""Unit tests of the model head facts: output layers (units, effective activation, where
it is written) and the losses models are compiled with."""

from __future__ import annotations

import textwrap
from typing import List, Optional, Tuple

import libcst as cst
import pytest

from kerascheck.semantics import Semantics
from kerascheck.semantics.heads import Compilation, HeadFacts, OutputHead


def facts_for(code: str) -> Tuple[HeadFacts, cst.Module]:
    module = cst.parse_module(textwrap.dedent(code))
    return Semantics(module).heads, module


def code_of(node: Optional[cst.CSTNode]) -> Optional[str]:
    return None if node is None else cst.Module([]).code_for_node(node).strip()


def summary(head: OutputHead) -> Tuple[Optional[int], Optional[str], Optional[str]]:
    """(units, activation, where the activation is written)."""
    activation = head.activation
    return (
        head.units,
        activation.name if activation else None,
        code_of(activation.site) if activation else None,
    )


def heads(code: str) -> List[Tuple[Optional[int], Optional[str], Optional[str]]]:
    facts, _ = facts_for(code)
    return [summary(head) for head in facts.output_heads]


def compilations(code: str) -> List[Compilation]:
    facts, module = facts_for(code)
    found: List[Compilation] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            compilation = facts.compilation(node)
            if compilation is not None:
                found.append(compilation)

    module.visit(_Calls())
    return found


# ---- output heads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1, activation="softmax")])
            """,
            (1, "softmax", 'activation="softmax"'),
            id="sequential-list",
        ),
        pytest.param(
            """\
            from keras.models import Sequential
            from keras.layers import Dense, Activation
            m = Sequential()
            m.add(Dense(8, input_dim=4))
            m.add(Dense(1))
            m.add(Activation('softmax'))
            """,
            (1, "softmax", "Activation('softmax')"),
            id="add-dense-then-activation",
        ),
        pytest.param(
            """\
            import tensorflow as tf
            m = tf.keras.Sequential([tf.keras.layers.Dense(3, tf.nn.softmax)])
            """,
            (3, "softmax", "tf.nn.softmax"),
            id="positional-tf-function",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(4)])
            """,
            (4, "linear", "keras.layers.Dense(4)"),
            id="default-linear",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(units=2, activation=None)])
            """,
            (2, "linear", "activation=None"),
            id="activation-none",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(1, activation="sigmoid"), keras.layers.Activation("softmax")])
            """,
            (1, "softmax", 'keras.layers.Activation("softmax")'),
            id="outermost-activation-wins",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(5, activation="softmax"), keras.layers.Activation("linear")])
            """,
            (5, "softmax", 'activation="softmax"'),
            id="linear-activation-is-transparent",
        ),
        pytest.param(
            """\
            import keras
            inp = keras.Input((4,))
            x = keras.layers.Dense(16, activation="relu")(inp)
            x = keras.layers.Dense(1)(x)
            x = keras.layers.Activation("softmax")(x)
            m = keras.Model(inp, x)
            """,
            (1, "softmax", 'keras.layers.Activation("softmax")'),
            id="functional-reassigned-name",
        ),
        pytest.param(
            """\
            import keras
            inp = keras.Input((4,))
            out = keras.layers.Activation("softmax")(keras.layers.Dense(1)(inp))
            m = keras.Model(inputs=[inp], outputs=[out])
            """,
            (1, "softmax", 'keras.layers.Activation("softmax")'),
            id="functional-nested-call",
        ),
        pytest.param(
            """\
            from keras.layers import Dense, Input
            from keras.models import Model
            inp = Input((4,))
            dense = Dense(2, activation="sigmoid")
            m = Model(input=inp, output=dense(inp))
            """,
            (2, "sigmoid", 'activation="sigmoid"'),
            id="functional-layer-instance-keras2-keywords",
        ),
        pytest.param(
            """\
            import keras
            def build():
                model = keras.Sequential()
                model.add(keras.layers.Dense(1, activation="softmax"))
                return model
            m = build()
            """,
            (1, "softmax", 'activation="softmax"'),
            id="builder",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential()
            for units in (64, 32):
                m.add(keras.layers.Dense(units, activation="relu"))
            m.add(keras.layers.Dense(1, activation="sigmoid"))
            """,
            (1, "sigmoid", 'activation="sigmoid"'),
            id="layers-added-in-a-loop-before-the-head",
        ),
        pytest.param(
            """\
            import keras
            out = keras.layers.Dense(1, activation="softmax")
            with strategy.scope():
                m = keras.Sequential()
                m.add(keras.layers.Dense(8))
                m.add(out)
            """,
            (1, "softmax", 'activation="softmax"'),
            id="with-block-and-named-layer",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(n_classes, activation="softmax")])
            """,
            (None, "softmax", 'activation="softmax"'),
            id="units-from-a-variable",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([*base_layers(), keras.layers.Softmax()])
            """,
            (None, "softmax", "keras.layers.Softmax()"),
            id="activation-layer-after-unknown-layers",
        ),
    ],
)
def test_output_head(code: str, expected):
    assert heads(code) == [expected]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(8)])
            if binary:
                m.add(keras.layers.Dense(1, activation="softmax"))
            """,
            id="added-in-a-branch",
        ),
        pytest.param(
            """\
            import keras
            def add_head(model):
                model.add(keras.layers.Dense(1, activation="softmax"))
            m = keras.Sequential([keras.layers.Dense(8)])
            add_head(m)
            """,
            id="added-by-another-function",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1, activation="softmax")])
            m.pop()
            """,
            id="popped",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(1, activation="softmax"), *extra])
            """,
            id="spread-after",
        ),
        pytest.param(
            """\
            import keras
            stack = [keras.layers.Dense(1, activation="softmax")]
            stack.append(keras.layers.Dense(3))
            m = keras.Sequential(stack)
            """,
            id="mutated-layer-list",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(1, activation="softmax"), keras.layers.Dropout(0.5)])
            """,
            id="unknown-last-layer",
        ),
        pytest.param(
            """\
            import keras
            inp = keras.Input((4,))
            if deep:
                out = keras.layers.Dense(1, activation="softmax")(inp)
            else:
                out = keras.layers.Dense(3, activation="softmax")(inp)
            m = keras.Model(inp, out)
            """,
            id="functional-output-from-branches",
        ),
        pytest.param(
            """\
            import keras
            inp = keras.Input((4,))
            out = keras.ops.concatenate([keras.layers.Dense(1)(inp), keras.layers.Dense(1)(inp)])
            m = keras.Model(inp, out)
            """,
            id="functional-op-of-several-layers",
        ),
        pytest.param(
            """\
            from mylib import Sequential, Dense
            m = Sequential([Dense(1, activation="softmax")])
            """,
            id="not-keras",
        ),
        pytest.param(
            """\
            import keras
            m = keras.models.load_model("model.keras")
            """,
            id="loaded-model",
        ),
    ],
)
def test_unknown_head(code: str):
    assert heads(code) == []


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(1, activation=pick())])
            """,
            id="activation-from-a-call",
        ),
        pytest.param(
            """\
            import keras
            inp = keras.Input((4, 10))
            out = keras.layers.Softmax(axis=1)(keras.layers.Dense(1)(inp))
            m = keras.Model(inp, out)
            """,
            id="softmax-over-another-axis",
        ),
        pytest.param(
            """\
            import keras
            m = keras.Sequential([keras.layers.Dense(1, **options)])
            """,
            id="activation-maybe-in-kwargs",
        ),
    ],
)
def test_known_width_with_unknown_activation(code: str):
    assert heads(code) == [(1, None, None)]


def test_builder_model_extended_at_the_call_site_keeps_only_the_final_head():
    found = heads(
        """\
        import keras
        def base():
            model = keras.Sequential([keras.layers.Dense(1, activation="softmax")])
            return model
        m = base()
        m.add(keras.layers.Dense(3, activation="softmax"))
        """
    )
    assert found == [(3, "softmax", 'activation="softmax"')]


def test_multi_output_functional_model_has_one_head_per_output():
    found = heads(
        """\
        import keras
        inp = keras.Input((4,))
        a = keras.layers.Dense(1, activation="sigmoid")(inp)
        b = keras.layers.Dense(3, activation="softmax")(inp)
        m = keras.Model(inp, [a, b])
        """
    )
    assert [units for units, _, _ in found] == [1, 3]


# ---- compiled losses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("'categorical_crossentropy'", ("categorical_crossentropy", "string", "'categorical_crossentropy'", False)),
        ('"CategoricalCrossentropy"', ("categorical_crossentropy", "string", '"CategoricalCrossentropy"', False)),
        (
            "keras.losses.categorical_crossentropy",
            ("categorical_crossentropy", "function", "keras.losses.categorical_crossentropy", False),
        ),
        (
            "keras.losses.CategoricalCrossentropy(from_logits=True)",
            ("categorical_crossentropy", "class", "keras.losses.CategoricalCrossentropy", True),
        ),
        (
            "keras.losses.SparseCategoricalCrossentropy(True)",
            ("sparse_categorical_crossentropy", "class", "keras.losses.SparseCategoricalCrossentropy", True),
        ),
        (
            "keras.losses.BinaryFocalCrossentropy(from_logits=True)",
            ("binary_focal_crossentropy", "class", "keras.losses.BinaryFocalCrossentropy", True),
        ),
        (
            "keras.losses.BinaryCrossentropy(from_logits=flag)",
            ("binary_crossentropy", "class", "keras.losses.BinaryCrossentropy", None),
        ),
        (
            "lambda y, p: keras.losses.binary_crossentropy(y, p, True)",
            ("binary_crossentropy", "function", "keras.losses.binary_crossentropy", True),
        ),
        (
            "functools.partial(keras.metrics.categorical_crossentropy, from_logits=True)",
            ("categorical_crossentropy", "function", "keras.metrics.categorical_crossentropy", True),
        ),
        ("named_loss", ("categorical_crossentropy", "class", "keras.losses.CategoricalCrossentropy", True)),
    ],
)
def test_compiled_loss(loss: str, expected):
    found = compilations(
        f"""\
        import functools
        import keras
        named_loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        m = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
        m.compile("adam", {loss})
        """
    )
    assert len(found) == 1
    compiled = found[0].loss
    assert (compiled.name, compiled.form, code_of(compiled.reference), compiled.is_from_logits) == expected
    assert code_of(compiled.node) == loss
    assert found[0].head.units == 3


@pytest.mark.parametrize(
    "loss",
    [
        "lambda y, p: keras.losses.categorical_crossentropy(p, y, from_logits=True)",  # arguments swapped
        "my_loss",  # a local function
        "[keras.losses.CategoricalCrossentropy(from_logits=True)]",  # a list of losses
        "custom.CategoricalCrossentropy(from_logits=True)",  # not Keras
    ],
)
def test_unknown_loss(loss: str):
    found = compilations(
        f"""\
        import keras
        def my_loss(y_true, y_pred):
            return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)
        m = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
        m.compile(loss={loss})
        """
    )
    assert found == []


def test_compile_through_a_parameter_sees_the_callers_model():
    found = compilations(
        """\
        import keras
        def build():
            return keras.Sequential([keras.layers.Dense(1)])
        def train(model):
            model.compile(loss="categorical_crossentropy")
        train(build())
        """
    )
    assert [(c.head.units, c.loss.name) for c in found] == [(1, "categorical_crossentropy")]


def test_compile_of_a_multi_output_model_is_not_a_compilation():
    found = compilations(
        """\
        import keras
        inp = keras.Input((4,))
        m = keras.Model(inp, [keras.layers.Dense(1)(inp), keras.layers.Dense(2)(inp)])
        m.compile(loss="categorical_crossentropy")
        """
    )
    assert found == []


def test_compile_of_an_unknown_model_is_not_a_compilation():
    assert compilations("self.model.compile(loss='categorical_crossentropy')\n") == []


@pytest.mark.parametrize(
    "edit",
    [
        "m.layers[-1].activation = keras.activations.linear",
        "m.get_layer('out').activation = None",
        "m.layers.pop()",
    ],
)
def test_layers_changed_in_place_make_the_head_unknown(edit: str):
    found = heads(
        f"""\
        import keras
        def build():
            return keras.Sequential([keras.layers.Dense(1, activation="softmax", name="out")])
        m = build()
        {edit}
        """
    )
    assert found == []


def test_freezing_layers_keeps_the_head():
    found = heads(
        """\
        import keras
        m = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1, activation="softmax")])
        m.layers[0].trainable = False
        """
    )
    assert found == [(1, "softmax", 'activation="softmax"')]
