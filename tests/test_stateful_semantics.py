"""Unit tests of the stateful facts: stateful layers, flow-sensitive name lookup, state
resets, resetting callbacks and what ``fit`` trains on."""

from __future__ import annotations

import textwrap
from typing import List

import libcst as cst
import pytest

from kerascheck.semantics import Semantics
from kerascheck.semantics.stateful import StatefulFacts, TrainingInput


def facts_for(code: str) -> StatefulFacts:
    return Semantics(cst.parse_module(textwrap.dedent(code))).stateful


def code_of(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node).strip()


def calls(facts: StatefulFacts, func_code: str) -> List[cst.Call]:
    """The calls whose callee is written ``func_code``, in source order."""
    found: List[cst.Call] = []

    class _InOrder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if code_of(node.func) == func_code:
                found.append(node)

    facts.flow.module.visit(_InOrder())
    return found


def last_expression(facts: StatefulFacts) -> cst.BaseExpression:
    """The value of the module's last statement (or of a function's last ``return``)."""
    statement = facts.flow.module.body[-1]
    while isinstance(statement, cst.FunctionDef):
        statement = statement.body.body[-1]
    small = statement.body[0]
    assert isinstance(small, (cst.Expr, cst.Return)) and small.value is not None
    return small.value


def last_name(facts: StatefulFacts, name: str) -> cst.Name:
    """The last read of ``name`` in the module (the argument of the last ``use(...)``)."""
    use = calls(facts, "use")[-1]
    arg = use.args[0].value
    assert isinstance(arg, cst.Name) and arg.value == name
    return arg


def reaching_code(facts: StatefulFacts, name: str) -> List[str]:
    reaching = facts.flow.reaching(last_name(facts, name))
    out = [code_of(value) for value in reaching.values]
    return sorted(out) + ([] if reaching.complete else ["<unknown>"])


# ---- stateful layers -------------------------------------------------------------------

STATEFUL_LAYERS = [
    "from keras.layers import LSTM\nLSTM(10, stateful=True)\n",
    "import tensorflow as tf\ntf.keras.layers.GRU(4, stateful=True)\n",
    "from tensorflow.keras import layers\nlayers.SimpleRNN(4, stateful=True)\n",
    "from keras.layers import RNN, LSTMCell\nRNN(LSTMCell(8), stateful=True)\n",
    "from keras.layers import ConvLSTM2D\nConvLSTM2D(8, 3, stateful=True)\n",
    "from keras.layers import CuDNNLSTM\nCuDNNLSTM(8, stateful=True)\n",
    "from keras.layers import LSTM, Bidirectional\nBidirectional(LSTM(8, stateful=True))\n",
    "from keras.layers import LSTM\nLSTM(8, stateful=True)(inputs)\n",
    "from keras.layers import LSTM\nSTATEFUL = True\nLSTM(8, stateful=STATEFUL)\n",
    # local aliases of the class
    "import functools\nimport tensorflow as tf\n"
    "rnn = functools.partial(tf.keras.layers.GRU, recurrent_activation='sigmoid')\n"
    "rnn(8, stateful=True)\n",
    "from functools import partial\nfrom keras.layers import LSTM\n"
    "def build():\n    rnn = partial(LSTM, stateful=True)\n    return rnn(8)\n",
    "import tensorflow as tf\n"
    "def build(gpu):\n"
    "    if gpu:\n        rnn = tf.keras.layers.CuDNNGRU\n"
    "    else:\n        rnn = tf.keras.layers.GRU\n"
    "    return rnn(8, stateful=True)\n",
    "import tensorflow as tf\nrnn = tf.keras.layers.CuDNNGRU if gpu else tf.keras.layers.GRU\n"
    "rnn(8, stateful=True)\n",
]

NOT_STATEFUL_LAYERS = [
    "from keras.layers import LSTM\nLSTM(10)\n",
    "from keras.layers import LSTM\nLSTM(10, stateful=False)\n",
    "from keras.layers import Dense\nDense(1, stateful=True)\n",
    "def LSTM(units, stateful):\n    pass\nLSTM(10, stateful=True)\n",
    "from keras.layers import LSTM\ndef build(stateful):\n    return LSTM(10, stateful=stateful)\n",
    "from keras.layers import LSTM, Bidirectional\nBidirectional(LSTM(8))\n",
    "import functools\nfrom keras.layers import GRU\n"
    "def build(gpu):\n    rnn = functools.partial(GRU, stateful=True)\n"
    "    if gpu:\n        rnn = make_other()\n    return rnn(8)\n",
]


@pytest.mark.parametrize("code", STATEFUL_LAYERS)
def test_stateful_layer(code: str) -> None:
    facts = facts_for(code)
    assert facts.is_stateful_layer(last_expression(facts))


@pytest.mark.parametrize("code", NOT_STATEFUL_LAYERS)
def test_not_a_stateful_layer(code: str) -> None:
    facts = facts_for(code)
    assert not facts.is_stateful_layer(last_expression(facts))


# ---- flow-sensitive lookup -----------------------------------------------------------


def test_latest_assignment_wins() -> None:
    facts = facts_for("a = 1\na = 2\nuse(a)\n")
    assert reaching_code(facts, "a") == ["2"]


def test_if_without_else_adds_a_possibility() -> None:
    facts = facts_for("a = 1\nif c:\n    a = 2\nuse(a)\n")
    assert reaching_code(facts, "a") == ["1", "2"]


def test_if_else_both_assigning_kills() -> None:
    facts = facts_for("a = 1\nif c:\n    a = 2\nelif d:\n    a = 3\nelse:\n    a = 4\nuse(a)\n")
    assert reaching_code(facts, "a") == ["2", "3", "4"]


def test_loop_body_reaches_next_iteration() -> None:
    facts = facts_for("a = 1\nfor i in r:\n    use(a)\n    a = 2\n")
    assert reaching_code(facts, "a") == ["1", "2"]


def test_loop_target_is_unknown() -> None:
    facts = facts_for("a = 1\nfor a in r:\n    use(a)\n")
    assert reaching_code(facts, "a") == ["<unknown>"]


def test_parameter_is_unknown() -> None:
    facts = facts_for("a = 1\ndef f(a):\n    use(a)\n")
    assert reaching_code(facts, "a") == ["<unknown>"]


def test_global_seen_from_function_is_every_module_value() -> None:
    facts = facts_for("a = 1\ndef f():\n    use(a)\na = 2\n")
    assert reaching_code(facts, "a") == ["1", "2"]


def test_rhs_reads_the_previous_value() -> None:
    facts = facts_for("a = 1\na = use(a)\n")
    assert reaching_code(facts, "a") == ["1"]


def test_def_binds_the_function() -> None:
    facts = facts_for("def a():\n    pass\nuse(a)\n")
    reaching = facts.flow.reaching(last_name(facts, "a"))
    assert reaching.known and isinstance(reaching.values[0], cst.FunctionDef)


def test_unbound_name_is_unknown() -> None:
    facts = facts_for("use(a)\n")
    assert reaching_code(facts, "a") == ["<unknown>"]


def test_tuple_unpacking_is_unknown() -> None:
    facts = facts_for("a = 1\na, b = f()\nuse(a)\n")
    assert reaching_code(facts, "a") == ["<unknown>"]


def test_literal_values_follow_names() -> None:
    facts = facts_for("EPOCHS = 30\nuse(EPOCHS)\n")
    assert facts.literal_values(last_name(facts, "EPOCHS")) == frozenset({30})


# ---- state resets ---------------------------------------------------------------------


RESETTING_LOOPS = [
    "for i in r:\n    model.fit(x, y)\n    model.reset_states()\n",
    "for i in r:\n    model.fit(x, y)\n    model.layers[0].reset_states()\n",
    "for i in r:\n    model.fit(x, y)\n    model.get_layer('lstm').reset_states()\n",
    "for i in r:\n    model.fit(x, y)\n"
    "    for layer in model.layers:\n        if layer.stateful:\n            layer.reset_state()\n",
    "for i in r:\n    model.fit(x, y)\n    lstm.reset_states()\n",
    "def reset(m):\n    m.reset_states()\nfor i in r:\n    model.fit(x, y)\n    reset(model)\n",
]

NON_RESETTING_LOOPS = [
    "for i in r:\n    model.fit(x, y)\n",
    "import keras\nacc = keras.metrics.Accuracy()\nfor i in r:\n    model.fit(x, y)\n    acc.reset_states()\n",
    "for i in r:\n    model.fit(x, y)\n    for metric in model.metrics:\n        metric.reset_state()\n",
    "import tensorflow as tf\n"
    "class T:\n    def __init__(self):\n        self.loss = tf.keras.metrics.Mean()\n"
    "    def run(self):\n        for i in r:\n            model.fit(x, y)\n            self.loss.reset_states()\n",
]


@pytest.mark.parametrize("code", RESETTING_LOOPS)
def test_loop_resets(code: str) -> None:
    facts = facts_for(code)
    loop = [node for node in facts.flow.nodes(cst.For) if isinstance(node.iter, cst.Name)][0]
    assert facts.resets_states(loop.body)


@pytest.mark.parametrize("code", NON_RESETTING_LOOPS)
def test_loop_does_not_reset(code: str) -> None:
    facts = facts_for(code)
    loop = [node for node in facts.flow.nodes(cst.For) if isinstance(node.iter, cst.Name)][0]
    assert not facts.resets_states(loop.body)


# ---- callbacks ------------------------------------------------------------------------

RESET_CALLBACK = textwrap.dedent(
    """
    import keras
    class ResetStates(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.reset_states()
    """
)

RESETTING_CALLBACKS = [
    RESET_CALLBACK + "model.fit(x, y, callbacks=[ResetStates()])\n",
    RESET_CALLBACK + "cbs = [keras.callbacks.EarlyStopping(), ResetStates()]\nmodel.fit(x, y, callbacks=cbs)\n",
    RESET_CALLBACK + "cbs = []\ncbs.append(ResetStates())\nmodel.fit(x, y, callbacks=cbs)\n",
    RESET_CALLBACK + "class Sub(ResetStates):\n    pass\nmodel.fit(x, y, callbacks=[Sub()])\n",
    "import keras\nreset = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: model.reset_states())\n"
    "model.fit(x, y, callbacks=[reset])\n",
    "import keras\n"
    "def reset_all(epoch, logs):\n    for layer in model.layers:\n        layer.reset_states()\n"
    "model.fit(x, y, callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=reset_all)])\n",
    "from mylib import MagicCallback\nmodel.fit(x, y, callbacks=[MagicCallback()])\n",
    "def train(model, cbs):\n    model.fit(x, y, callbacks=cbs)\n",
    "model.fit(x, y, **options)\n",
]

NON_RESETTING_CALLBACKS = [
    "import keras\nmodel.fit(x, y)\n",
    "import keras\nmodel.fit(x, y, callbacks=[keras.callbacks.EarlyStopping(patience=3)])\n",
    "import keras\nclass Log(keras.callbacks.Callback):\n"
    "    def on_epoch_end(self, epoch, logs=None):\n        print(epoch)\n"
    "model.fit(x, y, callbacks=[Log()])\n",
    "import keras\nclass Log(keras.callbacks.Callback):\n"
    "    def on_predict_end(self, logs=None):\n        self.model.reset_states()\n"
    "model.fit(x, y, callbacks=[Log()])\n",
    "import keras\nlog = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: print(e))\n"
    "model.fit(x, y, callbacks=[log])\n",
    "import keras\nacc = keras.metrics.Accuracy()\n"
    "cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: acc.reset_states())\n"
    "model.fit(x, y, callbacks=[cb])\n",
]


@pytest.mark.parametrize("code", RESETTING_CALLBACKS)
def test_resetting_callbacks(code: str) -> None:
    facts = facts_for(code)
    assert facts.callbacks_reset(calls(facts, "model.fit")[-1])


@pytest.mark.parametrize("code", NON_RESETTING_CALLBACKS)
def test_non_resetting_callbacks(code: str) -> None:
    facts = facts_for(code)
    assert not facts.callbacks_reset(calls(facts, "model.fit")[-1])


# ---- training inputs ------------------------------------------------------------------

INPUTS = [
    ("import numpy as np\nx = np.zeros((10, 1, 1))\nmodel.fit(x, y)\n", TrainingInput.ARRAYS),
    ("def train(model, x):\n    model.fit(x, y)\n", TrainingInput.ARRAYS),
    (
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)\n"
        "model.fit(ds)\n",
        TrainingInput.DATASET,
    ),
    (
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y))\n"
        "ds = ds.shuffle(1000)\nds = ds.batch(32).prefetch(2)\nmodel.fit(ds)\n",
        TrainingInput.SHUFFLED_DATASET,
    ),
    (
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100)\n"
        "ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)\nmodel.fit(ds)\n",
        TrainingInput.DATASET,
    ),
    (
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)\n"
        "if augment:\n    ds = ds.shuffle(100)\nmodel.fit(ds)\n",
        None,
    ),
    ("def train(model, ds):\n    model.fit(ds.shuffle(100).batch(8))\n", TrainingInput.SHUFFLED_DATASET),
    (
        "import keras\nds = keras.utils.timeseries_dataset_from_array(a, b, 10, shuffle=True)\n"
        "model.fit(ds)\n",
        TrainingInput.SHUFFLED_DATASET,
    ),
    (
        "import tensorflow as tf\n"
        "def make():\n    ds = tf.data.Dataset.range(10)\n    return ds.shuffle(4)\n"
        "model.fit(make())\n",
        TrainingInput.SHUFFLED_DATASET,
    ),
    ("def gen():\n    while True:\n        yield x, y\nmodel.fit(gen(), steps_per_epoch=3)\n", TrainingInput.GENERATOR),
    (
        "import keras\nclass Batches(keras.utils.Sequence):\n    pass\nmodel.fit(Batches())\n",
        TrainingInput.GENERATOR,
    ),
    ("model.fit(datagen.flow(x, y, batch_size=32))\n", TrainingInput.GENERATOR),
    ("model.fit(**kwargs)\n", None),
]


@pytest.mark.parametrize("code,expected", INPUTS)
def test_training_input(code: str, expected: TrainingInput) -> None:
    facts = facts_for(code)
    assert facts.training_input(calls(facts, "model.fit")[-1]) == expected


def test_enclosing_loops_stop_at_the_function() -> None:
    facts = facts_for(
        "for run in r:\n    def train():\n        while True:\n            for b in batches:\n"
        "                model.train_on_batch(b)\n"
    )
    loops = facts.enclosing_loops(calls(facts, "model.train_on_batch")[0])
    assert [type(loop).__name__ for loop in loops] == ["For", "While"]


# ---- the rules' help follows the file's Keras -------------------------------------------

LOOP_BODY = """
model = keras.Sequential([keras.layers.LSTM(4, stateful=True, batch_input_shape=(1, 3, 1))])
for epoch in range(10):
    model.fit(x, y, batch_size=1, shuffle=False)
"""


@pytest.mark.parametrize(
    "imports,expected",
    [
        ("import tf_keras as keras\n", "call `model.reset_states()` after each epoch"),
        ("import keras\nactivation = keras.ops.relu\n", "Keras 3 has no `Model.reset_states()`"),
        ("from tensorflow import keras\n", "call `reset_states()` on each stateful layer"),
    ],
)
def test_reset_help_follows_the_flavor(imports: str, expected: str) -> None:
    from kerascheck.engine.lint import lint_text

    [finding] = lint_text(imports + LOOP_BODY, "train.py", ("KC004",))
    assert finding.help is not None and expected in finding.help


def test_fix_loop_variable_avoids_names_in_use() -> None:
    from kerascheck.engine.lint import lint_text

    code = "from tensorflow import keras\nlayer = keras.layers.Dense(1)\n" + LOOP_BODY
    [finding] = lint_text(code, "train.py", ("KC004",))
    assert finding.fix is not None and "for rnn_layer in model.layers:" in finding.fix.edits[0].content
