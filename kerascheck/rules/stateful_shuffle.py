from __future__ import annotations

import libcst as cst

from ..registry import GAP, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.stateful import (
    LITERALLY_TRUE,
    RECURRENT_LAYER,
    STATEFUL_KEYWORD,
    TrainingInput,
    has_unpacking,
    training_argument,
)


@register
class StatefulShuffle(Rule):
    """
    ## What it does
    Finds `fit` calls on models with stateful recurrent layers (`stateful=True`) that
    shuffle the samples: array input without `shuffle=False`, or a `tf.data` pipeline
    that calls `.shuffle(...)`.

    ## Why is this bad?
    A stateful layer starts sample *i* of each batch from the states sample *i* of the
    previous batch ended with, so the batches must be consecutive pieces of the same
    sequences. `fit` shuffles array input by default (`shuffle=True`), which hands one
    sequence's states to an unrelated one, batch after batch: the statefulness the model
    was built for is silently lost. No error, no warning, in any Keras. `fit` ignores
    `shuffle=` for a `tf.data.Dataset`: there the pipeline's own `.shuffle()` is what
    breaks the order, and `shuffle=False` does not help.

    ## Example
    ```python
    model = Sequential([LSTM(10, batch_input_shape=(100, 1, 1), stateful=True), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=100)
    ```

    ## Use instead
    ```python
    model = Sequential([LSTM(10, batch_input_shape=(100, 1, 1), stateful=True), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
    ```
    and for a dataset, build the pipeline without `.shuffle(...)`.

    ## Fix safety
    Unsafe: `shuffle=False` changes the order the model sees the samples in, which is
    the point, but it changes what the model learns. A shuffled `tf.data` pipeline is
    not fixed automatically (the `.shuffle()` may be far from the `fit`, or shared).

    ## Known limits
    The model must be one the analysis follows and carry a literal `stateful=True`
    (see KC004). An input the analysis cannot classify counts as arrays; generators and
    `Sequence`/`PyDataset` inputs (which keep their own order) are not reported. A
    dataset whose pipeline shuffles only on some paths, or is built where it cannot be
    followed (another module, a function parameter), is not reported.
    """

    code = "KC005"
    name = "stateful-shuffle"
    summary = (
        "`fit` on a model with stateful recurrent layers without `shuffle=False` (or on a "
        "`tf.data` pipeline that shuffles)"
    )
    # ``stateful=`` (the rarest text, searched first), ``.fit(``, and the rest of a
    # stateful layer, as for KC004.
    trigger = Trigger(STATEFUL_KEYWORD, rf"\.{GAP}*fit\b", RECURRENT_LAYER, LITERALLY_TRUE)

    VALID = [
        # The seed passes shuffle=False.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential()
            model.add(LSTM(10, batch_input_shape=(100, 1, 1), stateful=True))
            model.add(Dense(1))
            model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
            """
        ),
        # Not stateful: shuffling is right.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, input_shape=(3, 1))])
            model.fit(x, y, epochs=5)
            """
        ),
        # A dataset re-assigned without shuffle before the fit.
        Valid(
            """
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.GRU(8, stateful=True, batch_input_shape=(32, 5, 1))])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32)
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32, drop_remainder=True)
            model.fit(ds, epochs=1)
            """
        ),
        # A generator keeps its own order.
        Valid(
            """
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.LSTM(8, stateful=True, batch_input_shape=(1, 5, 1))])
            def batches():
                while True:
                    for i in range(len(x)):
                        yield x[i:i + 1], y[i:i + 1]
            model.fit(batches(), steps_per_epoch=len(x), epochs=1)
            """
        ),
        # The shuffle flag comes from a name assigned False.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            SHUFFLE = False
            model = Sequential([LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
            model.fit(x, y, batch_size=1, shuffle=SHUFFLE)
            """
        ),
    ]
    INVALID = [
        # The default shuffle=True.
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential([LSTM(10, batch_input_shape=(100, 1, 1), stateful=True), Dense(1)])
            model.compile(loss="mse", optimizer="adam")
            model.fit(x, y, epochs=1, batch_size=100)
            """,
            line=6,
            message="`shuffle` defaults to True",
            expected_fix="""
            from keras.models import Sequential
            from keras.layers import LSTM, Dense
            model = Sequential([LSTM(10, batch_input_shape=(100, 1, 1), stateful=True), Dense(1)])
            model.compile(loss="mse", optimizer="adam")
            model.fit(x, y, epochs=1, batch_size=100, shuffle=False)
            """,
        ),
        # An explicit shuffle=True, in a multi-line call.
        Invalid(
            """
            import tensorflow as tf
            model = tf.keras.Sequential([
                tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(8, stateful=True), batch_input_shape=(4, 5, 1)),
            ])
            model.fit(
                x,
                y,
                batch_size=4,
                shuffle=True,
            )
            """,
            line=6,
            message="`shuffle=True`",
            expected_fix="""
            import tensorflow as tf
            model = tf.keras.Sequential([
                tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(8, stateful=True), batch_input_shape=(4, 5, 1)),
            ])
            model.fit(
                x,
                y,
                batch_size=4,
                shuffle=False,
            )
            """,
        ),
        # A multi-line call with a trailing comma and no shuffle.
        Invalid(
            """
            import keras
            model = keras.Sequential([keras.Input(batch_shape=(4, 5, 1)), keras.layers.SimpleRNN(8, stateful=True)])
            model.fit(
                x,
                y,
                batch_size=4,
            )
            """,
            line=4,
            expected_fix="""
            import keras
            model = keras.Sequential([keras.Input(batch_shape=(4, 5, 1)), keras.layers.SimpleRNN(8, stateful=True)])
            model.fit(
                x,
                y,
                batch_size=4,
                shuffle=False,
            )
            """,
        ),
        # A shuffled tf.data pipeline: shuffle=False does not help; no automatic fix.
        Invalid(
            """
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.GRU(8, stateful=True, batch_input_shape=(32, 5, 1))])
            ds = tf.data.Dataset.from_tensor_slices((x, y))
            ds = ds.shuffle(buffer_size=1000)
            ds = ds.batch(32, drop_remainder=True)
            model.fit(ds, epochs=1, shuffle=False)
            """,
            line=7,
            message="drop the dataset's `.shuffle(...)`",
        ),
        # A comment and parentheses before `True`, a line continuation before `fit`.
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, stateful = (  # keep the states between batches
                True), batch_input_shape=(2, 3, 2))])
            model.\\
                fit(x, y, batch_size=2)
            """,
            line=6,
            expected_fix="""
            from keras.models import Sequential
            from keras.layers import LSTM
            model = Sequential([LSTM(4, stateful = (  # keep the states between batches
                True), batch_input_shape=(2, 3, 2))])
            model.\\
                fit(x, y, batch_size=2, shuffle=False)
            """,
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "fit"):
            return
        facts = self.context.semantics.stateful
        if facts.stateful_model(func.value) is None:
            return
        model = self.context.code_for(func.value)
        training_input = facts.training_input(node)
        if training_input is TrainingInput.SHUFFLED_DATASET:
            self._report_shuffled_dataset(node, model)
        elif training_input is TrainingInput.ARRAYS:
            self._check_shuffle_argument(node, model)

    def _report_shuffled_dataset(self, node: cst.Call, model: str) -> None:
        self.report(
            node,
            f"`{model}` has stateful recurrent layers and `fit` trains it on a `tf.data` "
            "pipeline that shuffles: each sample's final states then start an unrelated "
            "sample of the next batch; `fit` ignores `shuffle=` for datasets, so "
            "`shuffle=False` does not help: drop the dataset's `.shuffle(...)`",
            help="build the dataset without `.shuffle(...)`, in sequence order",
        )

    def _check_shuffle_argument(self, node: cst.Call, model: str) -> None:
        shuffle = training_argument(node, "shuffle")
        if shuffle is None:
            if has_unpacking(node):
                return  # ``shuffle`` may be in ``**kwargs``
            reason = "`shuffle` defaults to True"
            change = Replace(node, _with_shuffle_false(node))
        else:
            values = self.context.semantics.stateful.literal_values(shuffle.value)
            if values is None or not all(values):
                return  # a flag that may be False
            reason = f"`shuffle={self.context.code_for(shuffle.value)}`"
            literal = not isinstance(shuffle.value, cst.Name) or shuffle.value.value == "True"
            change = Replace(shuffle.value, "False") if literal else None
        fix = FixSpec.unsafe("Pass `shuffle=False`", change) if change else None
        self.report(
            node,
            f"`{model}` has stateful recurrent layers and `fit` shuffles the samples "
            f"({reason}): each sample's final states then start an unrelated sample of the "
            "next batch; pass `shuffle=False`",
            help="pass `shuffle=False` so that batches follow each other in sequence order",
            fix=fix,
        )


def _with_shuffle_false(call: cst.Call) -> cst.Call:
    """``call`` with ``shuffle=False`` after its last argument, laid out like the others."""
    args = list(call.args)
    last = args[-1]
    previous_comma = args[-2].comma if len(args) >= 2 else None
    separator = (
        previous_comma
        if isinstance(previous_comma, cst.Comma)
        else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    )
    shuffle = cst.Arg(
        keyword=cst.Name("shuffle"),
        value=cst.Name("False"),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=cst.SimpleWhitespace(""),
        ),
        comma=last.comma,
    )
    return call.with_changes(args=[*args[:-1], last.with_changes(comma=separator), shuffle])
