from __future__ import annotations

import libcst as cst

from ..registry import GAP, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.imports import KerasFlavor


@register
class ProbabilitiesWithFromLogits(Rule):
    """
    ## What it does
    Finds models whose output layer applies `softmax` or `sigmoid` and that are compiled
    with a loss created with `from_logits=True`
    (`CategoricalCrossentropy(from_logits=True)`, `SparseCategoricalCrossentropy(...)`,
    `BinaryCrossentropy(...)`, or a loss function called with it in a `lambda` or
    `functools.partial`).

    ## Why is this bad?
    `from_logits=True` tells the loss that the model outputs raw scores, and the loss
    applies softmax (or sigmoid) itself. On an output that already went through one, Keras
    3 applies it a second time, without a warning: the probabilities are squashed towards
    uniform and the model trains noticeably worse (a final loss of 0.74 instead of 0.31 on
    one 3-class task). tf-keras notices the softmax, logs a warning and computes as if
    `from_logits=False`: the argument says the opposite of what happens, and the same code
    breaks when it moves to Keras 3.

    ## Example
    ```python
    from tensorflow import keras
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    ```

    ## Use instead
    ```python
    from tensorflow import keras
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
    )
    ```
    or keep `from_logits=True` and remove the output activation (`Dense(10)`), which is
    numerically more stable; the model then predicts logits, so apply softmax to its
    predictions where probabilities are needed.

    ## Fix safety
    Unsafe: it changes the loss that Keras 3 trains with (to the one the model was meant
    to have). Removing the output activation instead is the other correct fix, and the
    tool cannot tell which one the author wants.

    ## Known limits
    The model must be known (see the model tracking: a `Sequential` list, `.add(...)`
    calls that certainly run in order, or a functional model whose `outputs=` can be traced
    back through assignments) and have one output; the loss must be written in the
    `compile` call or bound once to a name. Losses built by a local function, from a
    variable `from_logits`, lists or dictionaries of losses, and custom training loops
    are not checked.
    """

    code = "KC007"
    name = "probabilities-with-from-logits"
    summary = "a softmax/sigmoid output trained with a loss created with `from_logits=True`"
    # A cross-entropy loss class or function (its name is written in the call, an import
    # or an alias) passed to ``compile``; a softmax or sigmoid output; ``True`` passed as
    # ``from_logits=`` or by position (first to a loss class, which may be aliased, or third
    # to a loss function in a ``lambda``); a model made by ``Sequential`` or ``Model``.
    trigger = Trigger(
        r"rossentropy",
        r"compile",
        r"oftmax|igmoid",
        rf"(?:from_logits{GAP}*=|[(,])(?:{GAP}|\()*True\b",
        r"Sequential|Model|Functional",
    )

    VALID = [
        # Logits out, from_logits=True: the intended pairing.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            """
        ),
        # Probabilities out, probabilities expected.
        Valid(
            """\
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
            model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=False))
            """
        ),
        # A sigmoid output with the default binary cross-entropy.
        Valid(
            """\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential()
            model.add(Dense(1, activation="sigmoid"))
            model.compile(loss="binary_crossentropy", optimizer="adam")
            """
        ),
        # The activation is chosen at run time: unknown.
        Valid(
            """\
            import keras
            def build(activation):
                model = keras.Sequential([keras.layers.Dense(3, activation=activation)])
                model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
                return model
            """
        ),
        # The softmax layer is added in a branch: the last layer is not certain.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(3)])
            if probabilities:
                model.add(keras.layers.Softmax())
            model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
            """
        ),
        # A model that is not Keras'.
        Valid(
            """\
            from mylib import Sequential, Dense, CrossEntropy
            model = Sequential([Dense(3, activation="softmax")])
            model.compile(loss=CrossEntropy(from_logits=True))
            """
        ),
        # `from_logits` from a variable is not followed.
        Valid(
            """\
            import keras
            logits = True
            model = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
            model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=logits))
            """
        ),
    ]
    INVALID = [
        Invalid(
            """\
            from tensorflow import keras
            model = keras.Sequential([
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            """,
            line=6,
            message="already applies softmax (line 4)",
            expected_fix="""\
            from tensorflow import keras
            model = keras.Sequential([
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
            """,
        ),
        # Keras 2 style: Dense then an Activation layer; the loss bound to a name first.
        Invalid(
            """\
            import tf_keras as keras
            from tf_keras.layers import Dense, Activation
            model = keras.models.Sequential()
            model.add(Dense(3, input_shape=(4,)))
            model.add(Activation("softmax"))
            loss = keras.losses.CategoricalCrossentropy(from_logits=True)
            model.compile(optimizer="sgd", loss=loss)
            """,
            line=7,
            message="tf-keras",
            expected_fix="""\
            import tf_keras as keras
            from tf_keras.layers import Dense, Activation
            model = keras.models.Sequential()
            model.add(Dense(3, input_shape=(4,)))
            model.add(Activation("softmax"))
            loss = keras.losses.CategoricalCrossentropy(from_logits=False)
            model.compile(optimizer="sgd", loss=loss)
            """,
        ),
        # Functional, sigmoid, the class's first positional parameter.
        Invalid(
            """\
            import keras
            inputs = keras.Input((8,))
            hidden = keras.layers.Dense(16, activation="relu")(inputs)
            outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
            model = keras.Model(inputs=inputs, outputs=outputs)
            model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(True))
            """,
            line=6,
            message="sigmoid",
            expected_fix="""\
            import keras
            inputs = keras.Input((8,))
            hidden = keras.layers.Dense(16, activation="relu")(inputs)
            outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
            model = keras.Model(inputs=inputs, outputs=outputs)
            model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(False))
            """,
        ),
        # A loss function wrapped in a lambda, on a functional softmax layer.
        Invalid(
            """\
            import keras
            inputs = keras.Input((8,))
            logits = keras.layers.Dense(10)(inputs)
            probabilities = keras.layers.Softmax()(logits)
            model = keras.Model(inputs, probabilities)
            model.compile(
                "adam",
                lambda y, p: keras.losses.sparse_categorical_crossentropy(y, p, from_logits=True),
            )
            """,
            line=8,
            expected_fix="""\
            import keras
            inputs = keras.Input((8,))
            logits = keras.layers.Dense(10)(inputs)
            probabilities = keras.layers.Softmax()(logits)
            model = keras.Model(inputs, probabilities)
            model.compile(
                "adam",
                lambda y, p: keras.losses.sparse_categorical_crossentropy(y, p, from_logits=False),
            )
            """,
        ),
        # functools.partial, a model made by a builder function.
        Invalid(
            """\
            import functools
            import tensorflow as tf
            def build():
                return tf.keras.Sequential([tf.keras.layers.Dense(5, activation=tf.nn.softmax)])
            model = build()
            model.compile(loss=functools.partial(tf.keras.losses.categorical_crossentropy, from_logits=True))
            """,
            line=6,
            expected_fix="""\
            import functools
            import tensorflow as tf
            def build():
                return tf.keras.Sequential([tf.keras.layers.Dense(5, activation=tf.nn.softmax)])
            model = build()
            model.compile(loss=functools.partial(tf.keras.losses.categorical_crossentropy, from_logits=False))
            """,
        ),
        # The loss class under an alias, given `from_logits` by position.
        Invalid(
            """\
            import keras
            from keras.losses import BinaryCrossentropy as BCE
            model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss=BCE(True))
            """,
            line=4,
            expected_fix="""\
            import keras
            from keras.losses import BinaryCrossentropy as BCE
            model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss=BCE(False))
            """,
        ),
        # An aliased loss function in a lambda, `from_logits` third by position on its own line.
        Invalid(
            """\
            import keras
            from keras.losses import categorical_crossentropy as cce
            model = keras.Sequential([keras.layers.Dense(4), keras.layers.Softmax()])
            model.compile("adam", lambda y, p: cce(y, p,
                                                   True))
            """,
            line=4,
            expected_fix="""\
            import keras
            from keras.losses import categorical_crossentropy as cce
            model = keras.Sequential([keras.layers.Dense(4), keras.layers.Softmax()])
            model.compile("adam", lambda y, p: cce(y, p,
                                                   False))
            """,
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        heads = self.context.semantics.heads
        loss = heads.compiled_loss(node)
        # The loss first: it is known without the model analysis that the head needs.
        if loss is None or loss.is_from_logits is not True:
            return
        literal = loss.from_logits
        compilation = heads.compilation(node)
        if compilation is None:
            return
        activation = compilation.head.activation
        if activation is None or not activation.is_probability:
            return
        if isinstance(activation.value, cst.SimpleString) and "\\" in activation.value.value:
            return  # the trigger knows `softmax`/`sigmoid` only when written without escapes
        self.report(
            loss.node,
            self._message(activation.name, self.context.line_of(activation.site)),
            help="pass `from_logits=False`, or remove the output activation to train on logits",
            fix=FixSpec.unsafe("Pass `from_logits=False`", Replace(literal, cst.Name("False"))),
        )

    def _message(self, activation: str, line: int) -> str:
        head = f"`from_logits=True` on an output that already applies {activation} (line {line}): "
        flavor = self.context.semantics.flavor
        if flavor is KerasFlavor.KERAS2:
            behaviour = (
                f"tf-keras notices the {activation}, warns and computes as if `from_logits=False` "
                f"(Keras 3 applies {activation} a second time, silently)"
            )
        elif flavor is KerasFlavor.KERAS3:
            behaviour = (
                f"Keras 3 applies {activation} a second time inside the loss, without a warning, "
                "and the model trains worse"
            )
        else:
            behaviour = (
                f"Keras 3 applies {activation} a second time inside the loss, without a warning "
                "(tf-keras warns and ignores `from_logits=True`)"
            )
        return head + behaviour + "; pass `from_logits=False`, or remove the output activation"
