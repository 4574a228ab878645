from __future__ import annotations

from typing import Optional

import libcst as cst

from ..registry import ONE_UNIT, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.heads import CompiledLoss, sibling_spelling


@register
class CategoricalLossSingleUnit(Rule):
    """
    ## What it does
    Finds models with a one-unit output compiled with categorical cross-entropy:
    `loss="categorical_crossentropy"`, `keras.losses.categorical_crossentropy` or
    `keras.losses.CategoricalCrossentropy()`.

    ## Why is this bad?
    Categorical cross-entropy compares a distribution over classes with one-hot labels,
    and normalises the predictions over the class axis first. With one unit the
    normalised prediction is always 1.0 and its logarithm 0, so the loss is exactly 0
    from the first batch whatever the labels: there is no gradient and nothing is
    learned. Keras only logs a warning about the shape at run time; training "converges"
    at once.

    ## Example
    ```python
    from keras.models import Sequential
    from keras.layers import Dense
    model = Sequential([Dense(32, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ```

    ## Use instead
    ```python
    from keras.models import Sequential
    from keras.layers import Dense
    model = Sequential([Dense(32, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    ```
    A one-unit output is a binary classifier (0/1 labels, sigmoid); for `n` classes use
    `Dense(n, activation="softmax")` with one-hot labels instead.

    ## Fix safety
    Unsafe: the model is then trained as a binary classifier, which is all one output unit
    can be; if several classes were meant, the output layer needs one unit per class
    instead. The loss keeps its form: a string stays a string, a function a function,
    and `CategoricalCrossentropy(...)` becomes `BinaryCrossentropy(...)` with the same
    arguments.

    ## Known limits
    The model must be known and have one output (a `Sequential` list, `.add(...)` calls
    that certainly run in that order, or a functional model whose `outputs=` can be traced
    back through assignments), with a literal `units=1`; the loss must be written in the
    `compile` call or bound once to a name. Lists or dictionaries of losses, losses made
    by local functions, and custom training loops are not checked.
    """

    code = "KC009"
    name = "categorical-loss-single-unit"
    summary = "`categorical_crossentropy` on a 1-unit output (loss identically 0)"
    # Categorical cross-entropy (as a string, a function or a class), passed to ``compile``,
    # and a ``Dense`` of one unit.
    trigger = Trigger(r"ategorical_crossentropy|ategoricalCrossentropy", r"compile", ONE_UNIT)

    VALID = [
        # Sparse categorical cross-entropy on a 10-unit softmax.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            """
        ),
        # One unit with binary cross-entropy.
        Valid(
            """\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential()
            model.add(Dense(1, activation="sigmoid"))
            model.compile(loss="binary_crossentropy", optimizer="adam")
            """
        ),
        # Categorical cross-entropy over two units.
        Valid(
            """\
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.Dense(2, activation="softmax")])
            model.compile(loss=tf.keras.losses.CategoricalCrossentropy())
            """
        ),
        # The number of units is a variable.
        Valid(
            """\
            import keras
            def build(n_classes):
                model = keras.Sequential([keras.layers.Dense(n_classes, activation="softmax")])
                model.compile(loss="categorical_crossentropy")
                return model
            """
        ),
        # The last layer depends on a branch.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(16)])
            if binary:
                model.add(keras.layers.Dense(1))
            else:
                model.add(keras.layers.Dense(5))
            model.compile(loss="categorical_crossentropy")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential([Dense(32, activation="relu"), Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
            """,
            line=4,
            message="identically 0",
            expected_fix="""\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential([Dense(32, activation="relu"), Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            """,
        ),
        # Dense(1) + Activation, the loss as a function.
        Invalid(
            """\
            import tensorflow as tf
            model = tf.keras.models.Sequential()
            model.add(tf.keras.layers.Dense(1))
            model.add(tf.keras.layers.Activation('sigmoid'))
            model.compile('adam', tf.keras.losses.categorical_crossentropy)
            """,
            line=5,
            expected_fix="""\
            import tensorflow as tf
            model = tf.keras.models.Sequential()
            model.add(tf.keras.layers.Dense(1))
            model.add(tf.keras.layers.Activation('sigmoid'))
            model.compile('adam', tf.keras.losses.binary_crossentropy)
            """,
        ),
        # Functional, the loss class keeps its arguments.
        Invalid(
            """\
            import keras
            inputs = keras.Input((8,))
            output = keras.layers.Dense(units=1)(inputs)
            model = keras.Model(inputs, output)
            model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
            """,
            line=5,
            expected_fix="""\
            import keras
            inputs = keras.Input((8,))
            output = keras.layers.Dense(units=1)(inputs)
            model = keras.Model(inputs, output)
            model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1))
            """,
        ),
        # Names imported from keras.losses; the class name as a string.
        Invalid(
            """\
            from keras import Sequential
            from keras.layers import Dense
            from keras.losses import CategoricalCrossentropy, categorical_crossentropy
            first = Sequential([Dense(1)])
            first.compile(loss=CategoricalCrossentropy())
            second = Sequential([Dense(1)])
            second.compile(loss=categorical_crossentropy)
            third = Sequential([Dense(1)])
            third.compile(loss='CategoricalCrossentropy')
            """,
            line=5,
            count=3,
            expected_fix="""\
            from keras import Sequential
            from keras.layers import Dense
            from keras.losses import CategoricalCrossentropy, categorical_crossentropy
            first = Sequential([Dense(1)])
            first.compile(loss=CategoricalCrossentropy())
            second = Sequential([Dense(1)])
            second.compile(loss="binary_crossentropy")
            third = Sequential([Dense(1)])
            third.compile(loss='BinaryCrossentropy')
            """,
        ),
        # `Dense` imported under another name: the call does not say `Dense`.
        Invalid(
            """\
            from keras.layers import Dense as Linear
            from keras.models import Sequential
            model = Sequential([Linear(16, activation="relu"), Linear(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            """,
            line=4,
            expected_fix="""\
            from keras.layers import Dense as Linear
            from keras.models import Sequential
            model = Sequential([Linear(16, activation="relu"), Linear(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy")
            """,
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        heads = self.context.semantics.heads
        # The loss first: it is known without the model analysis that the head needs.
        loss = heads.compiled_loss(node)
        if loss is None or loss.name != "categorical_crossentropy":
            return
        compilation = heads.compilation(node)
        if compilation is None or compilation.head.units != 1:
            return
        if isinstance(loss.reference, cst.SimpleString) and "\\" in loss.reference.value:
            return  # the trigger knows the loss's name only when written without escapes
        written = "CategoricalCrossentropy" if loss.form == "class" else "categorical_crossentropy"
        line = self.context.line_of(compilation.head.layer) if compilation.head.layer else None
        where = f" (line {line})" if line else ""
        replacement = self._binary(loss)
        self.report(
            loss.node,
            f"`{written}` on a 1-unit output{where} is identically 0, so nothing is learned "
            "(Keras only warns about the shape at run time); use `binary_crossentropy` for a "
            "binary target, or one unit per class with one-hot labels",
            help="use binary cross-entropy, or give the output layer one unit per class",
            fix=FixSpec.unsafe("Use binary cross-entropy", replacement) if replacement else None,
        )

    def _binary(self, loss: CompiledLoss) -> Optional[Replace]:
        """The change to binary cross-entropy in the loss's own form, if the file can spell it."""
        reference = loss.reference
        if isinstance(reference, cst.SimpleString):
            as_class = reference.evaluated_value == "CategoricalCrossentropy"
            text = "BinaryCrossentropy" if as_class else "binary_crossentropy"
            return Replace(reference, f"{reference.prefix}{reference.quote}{text}{reference.quote}")
        symbol = "BinaryCrossentropy" if loss.form == "class" else "binary_crossentropy"
        spelling = sibling_spelling(self.context.semantics.imports, reference, symbol)
        if spelling is not None:
            return Replace(reference, spelling)
        # ``compile`` takes a loss function's name as well as the function.
        if loss.form == "function" and reference is loss.node:
            return Replace(reference, '"binary_crossentropy"')
        return None
