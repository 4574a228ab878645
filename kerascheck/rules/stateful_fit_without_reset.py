from __future__ import annotations

from typing import Callable, Optional, Sequence, Set, Union

import libcst as cst

from ..registry import GAP, FixSpec, InsertStatementAfter, Invalid, Rule, Trigger, Valid, register
from ..semantics.imports import KerasFlavor
from ..semantics.stateful import (
    LITERALLY_TRUE,
    RECURRENT_LAYER,
    STATEFUL_KEYWORD,
    TRAINING_METHODS,
    StatefulFacts,
    has_unpacking,
    training_argument,
)

Loop = Union[cst.For, cst.While]

_LOOP_VARIABLES = ("layer", "rnn_layer", "stateful_layer")

# ``.fit(``, ``.fit_generator(`` or ``.train_on_batch(``.
_TRAINING_CALL = rf"\.{GAP}*(?:{'|'.join(sorted(TRAINING_METHODS))})\b"


@register
class StatefulFitWithoutReset(Rule):
    """
    ## What it does
    Finds models with stateful recurrent layers (`stateful=True`) trained across epoch
    boundaries without resetting their states: a loop of `fit`, `fit_generator` or
    `train_on_batch` calls with no state reset in the loop, or one `fit(..., epochs=N)`
    with N other than 1, in both cases without a callback that resets the states.

    ## Why is this bad?
    `fit` never resets recurrent states, not between batches and not between epochs.
    A stateful layer starts each batch from the states the previous batch ended with,
    which is what it is for within one pass over ordered sequences; across an epoch
    boundary it means the first batch of the next epoch starts from the last batch's
    states, as if the end of the data ran on into its beginning. Training and later
    predictions silently depend on that leftover state. No error, no warning.

    ## Example
    ```python
    model = Sequential()
    model.add(LSTM(10, batch_input_shape=(100, 1, 1), stateful=True))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam")

    for epoch in range(70):
        model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
    ```

    ## Use instead
    Reset the states after each epoch. Keras 2 (`tf_keras`, `tf.keras` before TF 2.16):
    ```python
    for epoch in range(70):
        model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
        model.reset_states()
    ```
    Keras 3 has no `Model.reset_states()`; reset each stateful layer:
    ```python
    for epoch in range(70):
        model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
        for layer in model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_state()
    ```
    Calling `reset_states()` on each stateful layer works in both. For one `fit` over
    several epochs, pass a callback whose `on_epoch_end` resets the states.

    ## Fix safety
    Unsafe: the fix inserts the reset after the training call (after the inner loop
    for nested loops), which changes what the model trains on; code that carries
    states across epochs on purpose would lose that. There is no automatic fix for one
    multi-epoch `fit` (it needs a callback) or for a single loop of `train_on_batch`
    calls (where its epochs end is not known).

    ## Known limits
    The model must be one the analysis follows (built in the file, also through a
    builder function or a parameter all callers pass the same model to) and a
    stateful layer must carry a literal `stateful=True` (or a name assigned one). A
    reset the analysis cannot classify (on an unknown object, in an unknown callback,
    in a local helper function) counts as a reset. A loop around a function that
    calls `fit` once is not seen. A single loop of `train_on_batch` calls is reported
    even if the program stops after one pass.
    """

    code = "KC004"
    name = "stateful-fit-without-reset"
    summary = (
        "a model with stateful recurrent layers trained across epoch boundaries with no "
        "state reset (a loop of `fit`/`train_on_batch` calls, or `fit(epochs=N)`)"
    )
    # ``stateful=`` (the rarest text, searched first), a training call, and the rest of a
    # stateful layer.
    trigger = Trigger(STATEFUL_KEYWORD, _TRAINING_CALL, RECURRENT_LAYER, LITERALLY_TRUE)

    VALID = [
        # The seed's fixed loop.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential()
            model.add(LSTM(10, batch_input_shape=(100, 1, 1), stateful=True))
            model.add(Dense(1))
            for i in range(70):
                model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
                model.reset_states()
            """
        ),
        # Keras 3: each stateful layer reset.
        Valid(
            """
            import keras
            model = keras.Sequential([keras.Input(batch_shape=(32, 10, 1)), keras.layers.GRU(8, stateful=True), keras.layers.Dense(1)])
            for epoch in range(10):
                model.fit(x, y, batch_size=32, shuffle=False)
                for layer in model.layers:
                    if getattr(layer, "stateful", False):
                        layer.reset_state()
            """
        ),
        # A resetting callback.
        Valid(
            """
            import tensorflow as tf
            class ResetStates(tf.keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    self.model.reset_states()
            model = tf.keras.Sequential([tf.keras.layers.LSTM(8, stateful=True, batch_input_shape=(4, 5, 1))])
            model.fit(x, y, epochs=30, batch_size=4, shuffle=False, callbacks=[ResetStates()])
            for i in range(3):
                model.fit(x, y, batch_size=4, shuffle=False, callbacks=[ResetStates()])
            """
        ),
        # One epoch, once.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
            model.fit(x, y, epochs=1, batch_size=1, shuffle=False)
            model.fit(x, y, batch_size=1, shuffle=False)
            """
        ),
        # Not stateful.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, input_shape=(3, 1))])
            for i in range(10):
                model.fit(x, y, epochs=5)
            """
        ),
        # A fresh model per run: nothing carries over between the loop's iterations.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            for units in (4, 8):
                model = Sequential([LSTM(units, stateful=True, batch_input_shape=(1, 3, 1))])
                model.fit(x, y, batch_size=1, shuffle=False)
            """
        ),
        # `stateful` only as an attribute and in a docstring.
        Valid(
            '''
            from keras.models import Sequential
            from keras.layers import LSTM
            class Trainer:
                """Trains a stateful=True model."""
                def __init__(self):
                    self.stateful = True
            model = Sequential([LSTM(4, input_shape=(3, 1))])
            for i in range(10):
                model.fit(x, y, epochs=1)
            '''
        ),
        # Nested loops, reset after each epoch's batches.
        Valid(
            """
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.LSTM(8, stateful=True, batch_input_shape=(1, 1, 1))])
            for epoch in range(5):
                for i in range(len(x)):
                    model.train_on_batch(x[i:i + 1], y[i:i + 1])
                model.reset_states()
            """
        ),
        # `stateful=False`; `True` only as a loop condition.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, stateful=False, batch_input_shape=(2, 3, 2))])
            while True:
                model.fit(x, y, epochs=5)
            """
        ),
    ]
    INVALID = [
        # The seed: a loop of one-epoch fits without a reset (Keras 3 imports).
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential()
            model.add(LSTM(10, batch_input_shape=(100, 1, 1), stateful=True))
            model.add(Dense(1))
            for i in range(70):
                model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
            """,
            line=8,
            message="`model` has stateful recurrent layers",
            expected_fix="""
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential()
            model.add(LSTM(10, batch_input_shape=(100, 1, 1), stateful=True))
            model.add(Dense(1))
            for i in range(70):
                model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
                for layer in model.layers:
                    if getattr(layer, "stateful", False):
                        layer.reset_states()
            """,
        ),
        # Keras 2 (tf_keras): the model-level reset.
        Invalid(
            """
            import tf_keras as keras
            model = keras.Sequential([keras.layers.LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
            epoch = 0
            while epoch < 10:
                model.fit(x, y, batch_size=1, shuffle=False)
                epoch += 1
            """,
            line=6,
            message="loop `while epoch < 10` (line 5)",
            expected_fix="""
            import tf_keras as keras
            model = keras.Sequential([keras.layers.LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
            epoch = 0
            while epoch < 10:
                model.fit(x, y, batch_size=1, shuffle=False)
                model.reset_states()
                epoch += 1
            """,
        ),
        # Keras 3 (keras.ops is Keras 3 only): reset each stateful layer with reset_state().
        Invalid(
            """
            import keras
            from keras import layers, ops
            inputs = keras.Input(batch_shape=(8, 5, 1))
            hidden = layers.RNN(layers.LSTMCell(16), stateful=True)(inputs)
            model = keras.Model(inputs, layers.Dense(1)(ops.relu(hidden)))
            for epoch in range(20):
                model.fit(x, y, batch_size=8, shuffle=False)
            """,
            line=8,
            expected_fix="""
            import keras
            from keras import layers, ops
            inputs = keras.Input(batch_shape=(8, 5, 1))
            hidden = layers.RNN(layers.LSTMCell(16), stateful=True)(inputs)
            model = keras.Model(inputs, layers.Dense(1)(ops.relu(hidden)))
            for epoch in range(20):
                model.fit(x, y, batch_size=8, shuffle=False)
                for layer in model.layers:
                    if getattr(layer, "stateful", False):
                        layer.reset_state()
            """,
        ),
        # Nested epoch/batch loops: the reset goes after the batches.
        Invalid(
            """
            from tensorflow import keras
            model = keras.Sequential([keras.layers.GRU(8, stateful=True, batch_input_shape=(1, 1, 1)), keras.layers.Dense(1)])
            model.compile("adam", "mse")
            for epoch in range(5):
                for i in range(len(x)):
                    model.train_on_batch(x[i:i + 1], y[i:i + 1])
            """,
            line=7,
            message="`train_on_batch`",
            expected_fix="""
            from tensorflow import keras
            model = keras.Sequential([keras.layers.GRU(8, stateful=True, batch_input_shape=(1, 1, 1)), keras.layers.Dense(1)])
            model.compile("adam", "mse")
            for epoch in range(5):
                for i in range(len(x)):
                    model.train_on_batch(x[i:i + 1], y[i:i + 1])
                for layer in model.layers:
                    if getattr(layer, "stateful", False):
                        layer.reset_states()
            """,
        ),
        # A metric's reset is not a state reset.
        Invalid(
            """
            import keras
            model = keras.Sequential([keras.layers.LSTM(4, stateful=True)])
            accuracy = keras.metrics.Accuracy()
            for epoch in range(10):
                model.fit(x, y, batch_size=1, shuffle=False)
                accuracy.reset_state()
            """,
            line=6,
        ),
        # One fit over several epochs: reported, no automatic fix.
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
            model.fit(x, y, epochs=30, batch_size=1, shuffle=False)
            """,
            line=5,
            message="`fit(epochs=30)`",
        ),
        # A builder function and a training function that loops.
        Invalid(
            """
            import tensorflow as tf
            def build(batch_size):
                model = tf.keras.Sequential()
                model.add(tf.keras.layers.LSTM(32, stateful=True, batch_input_shape=(batch_size, 10, 1)))
                model.add(tf.keras.layers.Dense(1))
                model.compile(loss="mse", optimizer="adam")
                return model

            def train(model, x, y, epochs):
                for epoch in range(epochs):
                    model.fit(x, y, batch_size=16, shuffle=False)

            model = build(16)
            train(model, x, y, 50)
            """,
            line=12,
            message="`for epoch in range(epochs)`",
        ),
        # No `True` written: a name assigned 1 (equal to True), preset by functools.partial.
        Invalid(
            """
            import functools
            import tensorflow as tf
            STATEFUL = 1
            Recurrent = functools.partial(tf.keras.layers.GRU, stateful=STATEFUL)
            model = tf.keras.Sequential([Recurrent(8, batch_input_shape=(4, 5, 2)), tf.keras.layers.Dense(2)])
            for epoch in range(3):
                model.fit(x, y, batch_size=4, shuffle=False)
            """,
            line=8,
        ),
        # A float equal to True through an annotated name, inside `Bidirectional`.
        Invalid(
            """
            import keras
            keep: bool = 1.0
            model = keras.Sequential([keras.layers.Bidirectional(keras.layers.LSTM(4, stateful=keep), batch_input_shape=(2, 3, 1))])
            model.fit(x, y, batch_size=2, epochs=10, shuffle=False)
            """,
            line=5,
            message="`fit(epochs=10)`",
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in TRAINING_METHODS):
            return
        facts = self.context.semantics.stateful
        model = facts.stateful_model(func.value)
        if model is None or facts.callbacks_reset(node):
            return
        # Loops that create the model anew on each run do not carry states over.
        loops = [loop for loop in facts.enclosing_loops(node) if not model.created_inside(loop)]
        if loops and not facts.resets_states(loops[-1].body, model):
            self._report_loop(node, func, loops)
        elif func.attr.value != "train_on_batch" and self._runs_several_epochs(node, facts):
            self._report_epochs(node, func)

    # ---- a loop of training calls ------------------------------------------------------

    def _report_loop(self, node: cst.Call, func: cst.Attribute, loops: Sequence[Loop]) -> None:
        model = self.context.code_for(func.value)
        method = func.attr.value
        outer = loops[-1]
        message = (
            f"`{model}` has stateful recurrent layers and `{method}` trains it in the loop "
            f"`{_header(outer, self.context.code_for)}` (line {self.context.line_of(outer)}) "
            f"with no state reset in that loop: `{method}` never resets recurrent states, so "
            "every epoch after the first starts from the states the previous one ended with"
        )
        anchor = self._fix_anchor(node, method, loops)
        fix = None
        if anchor is not None:
            fix = FixSpec.unsafe(
                "Reset the recurrent states after each epoch",
                InsertStatementAfter(anchor, self._reset_code(model)),
            )
        self.report(node, message, help=self._reset_help(model), fix=fix)

    def _fix_anchor(self, node: cst.Call, method: str, loops: Sequence[Loop]) -> Optional[cst.CSTNode]:
        """The statement the reset goes after: the inner loop of nested loops (the end of
        each outer iteration), else the training call's own statement."""
        if len(loops) >= 2:
            return loops[0]
        if method == "train_on_batch":
            return None  # one iteration per batch: where an epoch ends is not known
        flow = self.context.semantics.stateful.flow
        for ancestor in flow.ancestors(node):
            if isinstance(ancestor, cst.SimpleStatementLine):
                return ancestor if isinstance(flow.parent(ancestor), cst.IndentedBlock) else None
            if isinstance(ancestor, cst.BaseCompoundStatement):
                return None  # the call is in a loop or branch header
        return None

    def _reset_code(self, model: str) -> str:
        flavor = self.context.semantics.imports.flavor
        if flavor is KerasFlavor.KERAS2:
            return f"{model}.reset_states()"
        method = "reset_state" if flavor is KerasFlavor.KERAS3 else "reset_states"
        layer = self._free_loop_variable()
        return (
            f"for {layer} in {model}.layers:\n"
            f'    if getattr({layer}, "stateful", False):\n'
            f"        {layer}.{method}()"
        )

    def _free_loop_variable(self) -> str:
        used: Set[str] = {name.value for name in self.context.semantics.stateful.flow.nodes(cst.Name)}
        for candidate in _LOOP_VARIABLES:
            if candidate not in used:
                return candidate
        return next(f"layer_{n}" for n in range(len(used) + 1) if f"layer_{n}" not in used)

    def _reset_help(self, model: str) -> str:
        flavor = self.context.semantics.imports.flavor
        if flavor is KerasFlavor.KERAS2:
            return (
                f"call `{model}.reset_states()` after each epoch, or in a callback's "
                "`on_epoch_end` (`self.model.reset_states()`)"
            )
        if flavor is KerasFlavor.KERAS3:
            return (
                "Keras 3 has no `Model.reset_states()`: call `layer.reset_state()` on each "
                f"stateful layer of `{model}.layers` after each epoch, or in a callback's "
                "`on_epoch_end`"
            )
        return (
            f"call `reset_states()` on each stateful layer of `{model}.layers` after each "
            "epoch, or in a callback's `on_epoch_end` (this works in Keras 2 and 3; Keras 2 "
            f"also has `{model}.reset_states()`, Keras 3 only the layers' resets)"
        )

    # ---- one fit over several epochs ------------------------------------------------

    def _runs_several_epochs(self, node: cst.Call, facts: StatefulFacts) -> bool:
        if has_unpacking(node):
            return False  # the epochs may be in ``**kwargs``
        epochs = training_argument(node, "epochs")
        initial = training_argument(node, "initial_epoch")
        epoch_values = frozenset({1}) if epochs is None else facts.literal_values(epochs.value)
        initial_values = frozenset({0}) if initial is None else facts.literal_values(initial.value)
        if initial_values is None:
            return False  # ``fit(epochs=e + 1, initial_epoch=e)`` runs one epoch
        if epoch_values is None:
            return True
        counts = {
            end - start
            for end in epoch_values
            for start in initial_values
            if isinstance(end, int) and isinstance(start, int)
        }
        return counts != {1}

    def _report_epochs(self, node: cst.Call, func: cst.Attribute) -> None:
        model = self.context.code_for(func.value)
        method = func.attr.value
        epochs = training_argument(node, "epochs")
        shown = f"{method}(epochs={self.context.code_for(epochs.value)})" if epochs else method
        self.report(
            node,
            f"`{model}` has stateful recurrent layers and `{shown}` trains it over several "
            f"epochs with no state reset: `{method}` never resets recurrent states, so every "
            "epoch after the first starts from the states the previous one ended with; train "
            "one epoch per call in a loop that resets the states after each, or pass a "
            "callback that resets them in `on_epoch_end`",
            help=self._reset_help(model),
        )


def _header(loop: Loop, code_for: Callable[[cst.CSTNode], str]) -> str:
    """``for x in xs`` / ``while cond``, shortened for a message."""
    if isinstance(loop, cst.For):
        header = f"for {code_for(loop.target)} in {code_for(loop.iter)}"
    else:
        header = f"while {code_for(loop.test)}"
    header = " ".join(header.split())
    return header if len(header) <= 60 else header[:57] + "..."
