from __future__ import annotations

from typing import Optional

import libcst as cst

from ..context import FileContext
from ..registry import ONE_UNIT, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.heads import OutputActivation, sibling_spelling
from ..semantics.imports import KerasFlavor
from ..semantics.literals import integer_value


@register
class SingleUnitSoftmax(Rule):
    """
    ## What it does
    Finds models whose output layer has one unit and applies softmax:
    `Dense(1, activation="softmax")`, or `Dense(1)` followed by `Activation("softmax")`
    or `Softmax()` (also `activation=keras.activations.softmax` or `tf.nn.softmax`).

    ## Why is this bad?
    Softmax normalises its inputs to sum to 1, and a single number normalised to sum to 1
    is always 1.0. The model predicts the same class for every input, whatever it learns.
    Nothing fails: Keras 3 only logs a warning at run time while the loss stays flat;
    tf-keras gives no warning at all, and its loss may even fall (it reads the values
    before the softmax) while the accuracy stays at chance.

    ## Example
    ```python
    from keras.models import Sequential
    from keras.layers import Dense
    model = Sequential()
    model.add(Dense(32, activation="relu", input_dim=8))
    model.add(Dense(1, activation="softmax"))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    ```

    ## Use instead
    ```python
    from keras.models import Sequential
    from keras.layers import Dense
    model = Sequential()
    model.add(Dense(32, activation="relu", input_dim=8))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    ```
    A binary classifier with one output unit needs `sigmoid`; a classifier over `n`
    classes needs `Dense(n, activation="softmax")` with one-hot or integer labels.

    ## Fix safety
    Unsafe: `sigmoid` makes the model a binary classifier, which is what one output unit
    can express; if the model was meant to choose among several classes, the fix is
    instead to give the layer one unit per class, which the tool cannot know.

    ## Known limits
    Only the output layer of a known model is checked: a `Sequential` list, `.add(...)`
    calls that certainly run in that order, or a functional model whose `outputs=` can be
    traced back through assignments. `units` must be a literal `1` (a variable is not
    followed), and a layer wrapped in `TimeDistributed` or followed by another layer such
    as `Dropout` is not looked into.
    """

    code = "KC008"
    name = "single-unit-softmax"
    summary = "softmax over a 1-unit output (always 1.0)"
    # A softmax (a string, a function or the ``Softmax`` layer), and a ``Dense`` of one unit.
    trigger = Trigger(r"oftmax", ONE_UNIT)

    VALID = [
        # Two units, softmax: a proper two-class output.
        Valid(
            """\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential([Dense(16, activation="relu"), Dense(2, activation="softmax")])
            """
        ),
        # One unit, sigmoid.
        Valid(
            """\
            import tensorflow as tf
            model = tf.keras.Sequential()
            model.add(tf.keras.layers.Dense(1, activation="sigmoid"))
            """
        ),
        # The number of units is a variable.
        Valid(
            """\
            import keras
            n_classes = 1
            model = keras.Sequential([keras.layers.Dense(n_classes, activation="softmax")])
            """
        ),
        # A one-unit softmax that is not the last layer is odd, but something else is.
        Valid(
            """\
            import keras
            model = keras.Sequential([
                keras.layers.Dense(1, activation="softmax"),
                keras.layers.Dense(4),
            ])
            """
        ),
        # Not in a known model.
        Valid(
            """\
            import keras
            head = keras.layers.Dense(1, activation="softmax")
            """
        ),
        # The softmax layer is added only in one branch.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            if multi_class:
                model.add(keras.layers.Activation("softmax"))
            """
        ),
        # Softmax over another axis than the unit axis.
        Valid(
            """\
            import keras
            inputs = keras.Input((10, 4))
            scores = keras.layers.Dense(1)(inputs)
            model = keras.Model(inputs, keras.layers.Softmax(axis=1)(scores))
            """
        ),
        # An activation string written with an escape is not read as `softmax`.
        Valid(
            """\
            import keras
            model = keras.Sequential([keras.layers.Dense(1, activation="soft\\x6dax")])
            """
        ),
    ]
    INVALID = [
        Invalid(
            """\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential()
            model.add(Dense(32, activation='relu', input_dim=8))
            model.add(Dense(1, activation='softmax'))
            """,
            line=5,
            message="always 1.0",
            expected_fix="""\
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential()
            model.add(Dense(32, activation='relu', input_dim=8))
            model.add(Dense(1, activation='sigmoid'))
            """,
        ),
        # Dense(1) then an Activation layer (tf-keras), reported at the Activation.
        Invalid(
            """\
            from tf_keras.models import Sequential
            from tf_keras.layers import Dense, Activation
            model = Sequential([Dense(8, input_shape=(4,)), Dense(1), Activation("softmax")])
            """,
            line=3,
            message="tf-keras gives no warning",
            expected_fix="""\
            from tf_keras.models import Sequential
            from tf_keras.layers import Dense, Activation
            model = Sequential([Dense(8, input_shape=(4,)), Dense(1), Activation("sigmoid")])
            """,
        ),
        # Functional: Activation(Dense(1)(x)), through names.
        Invalid(
            """\
            import keras
            inputs = keras.Input((8,))
            score = keras.layers.Dense(1)(inputs)
            output = keras.layers.Activation(keras.activations.softmax)(score)
            model = keras.Model(inputs=inputs, outputs=output)
            """,
            line=4,
            message="Keras 3",
            expected_fix="""\
            import keras
            inputs = keras.Input((8,))
            score = keras.layers.Dense(1)(inputs)
            output = keras.layers.Activation(keras.activations.sigmoid)(score)
            model = keras.Model(inputs=inputs, outputs=output)
            """,
        ),
        # A Softmax layer becomes Activation("sigmoid"); a builder function.
        Invalid(
            """\
            from tensorflow.keras import layers, models
            def build():
                return models.Sequential([layers.Dense(1, input_shape=(3,)), layers.Softmax()])
            model = build()
            """,
            line=3,
            expected_fix="""\
            from tensorflow.keras import layers, models
            def build():
                return models.Sequential([layers.Dense(1, input_shape=(3,)), layers.Activation("sigmoid")])
            model = build()
            """,
        ),
        # tf.nn.softmax as the activation; positional activation argument.
        Invalid(
            """\
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.Dense(1, tf.nn.softmax)])
            """,
            expected_fix="""\
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.Dense(1, tf.nn.sigmoid)])
            """,
        ),
        # The same layer in two models is one finding.
        Invalid(
            """\
            import keras
            head = keras.layers.Dense(1, activation="softmax")
            a = keras.Sequential([keras.layers.Dense(4), head])
            b = keras.Sequential([keras.layers.Dense(8), head])
            """,
            line=2,
            count=1,
        ),
        # `Dense` under a module-level alias; the one unit in parentheses after a comment.
        Invalid(
            """\
            import keras
            Head = keras.layers.Dense
            model = keras.Sequential([
                keras.layers.Dense(8),
                Head(  # one probability
                    (1), activation="softmax"),
            ])
            """,
            line=6,
            expected_fix="""\
            import keras
            Head = keras.layers.Dense
            model = keras.Sequential([
                keras.layers.Dense(8),
                Head(  # one probability
                    (1), activation="sigmoid"),
            ])
            """,
        ),
        # `units=` after the activation, on the next line.
        Invalid(
            """\
            from tensorflow import keras
            inputs = keras.Input((4,))
            outputs = keras.layers.Dense(activation="softmax",
                                         units=1)(inputs)
            model = keras.Model(inputs, outputs)
            """,
            line=3,
            expected_fix="""\
            from tensorflow import keras
            inputs = keras.Input((4,))
            outputs = keras.layers.Dense(activation="sigmoid",
                                         units=1)(inputs)
            model = keras.Model(inputs, outputs)
            """,
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._has_single_unit_layer = False

    def visit_Call(self, node: cst.Call) -> None:
        # Model heads cost a pass over the file: look for them only where some layer call
        # has a literal 1 as its first argument or as `units=`.
        if not self._has_single_unit_layer:
            for index, arg in enumerate(node.args):
                named_units = arg.keyword is not None and arg.keyword.value == "units"
                if (named_units or (index == 0 and arg.keyword is None)) and integer_value(arg.value) == 1:
                    self._has_single_unit_layer = True

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self._has_single_unit_layer:
            return
        for head in self.context.semantics.heads.output_heads:
            activation = head.activation
            if head.units != 1 or activation is None or activation.name != "softmax":
                continue
            if isinstance(activation.value, cst.SimpleString) and "\\" in activation.value.value:
                continue  # the trigger knows `softmax` only when written without escapes
            replacement = self._sigmoid(activation)
            fix = FixSpec.unsafe("Use `sigmoid` instead of `softmax`", replacement) if replacement else None
            self.report(
                activation.site,
                self._message(),
                help="use `sigmoid` for one binary output, or give the layer one unit per class",
                fix=fix,
            )

    def _message(self) -> str:
        flavor = self.context.semantics.flavor
        if flavor is KerasFlavor.KERAS2:
            behaviour = "tf-keras gives no warning, and the loss may even fall while accuracy stays at chance"
        elif flavor is KerasFlavor.KERAS3:
            behaviour = "Keras 3 only warns at run time while the loss stays flat"
        else:
            behaviour = "nothing fails (Keras 3 only warns at run time, tf-keras not at all)"
        return (
            "softmax over a 1-unit output is always 1.0, so the model predicts the same class "
            f"for every input; {behaviour}; use `sigmoid` for a binary output, or one unit per class"
        )

    def _sigmoid(self, activation: OutputActivation) -> Optional[Replace]:
        """The change that makes ``activation`` a sigmoid, if this file can spell it."""
        value = activation.value
        if isinstance(value, cst.SimpleString):
            return Replace(value, f"{value.prefix}{value.quote}sigmoid{value.quote}")
        if value is None:
            # A ``Softmax()`` layer becomes ``Activation("sigmoid")``.
            site = activation.site
            if not isinstance(site, cst.Call):
                return None
            layer = sibling_spelling(self.context.semantics.imports, site.func, "Activation")
            return Replace(site, f'{layer}("sigmoid")') if layer else None
        called = isinstance(activation.site, cst.Call) and activation.site.func is value
        spelling = sibling_spelling(self.context.semantics.imports, value, "sigmoid")
        if spelling is not None:
            return Replace(value, spelling)
        # An activation argument may also name the function by string.
        return None if called else Replace(value, '"sigmoid"')
