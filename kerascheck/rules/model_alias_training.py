from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from ..registry import GAP, FixSpec, InsertAtTop, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.imports import KerasFlavor, dotted_name
from ..semantics.models import LOOP_NODES, ModelFacts, ModelValue

if TYPE_CHECKING:  # pragma: no cover
    from ..context import FileContext

_FIT_METHODS = frozenset({"fit", "fit_generator", "train_on_batch"})
_TRAINING_METHODS = _FIT_METHODS | {"compile"}

# ---- the trigger --------------------------------------------------------------------
# Every finding has (1) a fit/fit_generator/train_on_batch call, (2) a model the file
# creates, and (3) an assignment ``b = a`` (or ``b = c = a``, ``b: T = a``, ``b, c = a, x``)
# whose target ``b`` is the very name a compile/fit call is made on. (1) and (2) are
# searched first, as plain patterns; (3) ties two places in the file by a name, in one
# pattern that only reads the text linearly: it takes the first name a training call is
# made on (``r``), accepts the file outright when a training call may be made on another
# name (or none can be read), and else looks for an assignment target ``r`` of one of
# those shapes.

_FIT_NAMES = "|".join(sorted(_FIT_METHODS))
_TRAINING_NAMES = "|".join(sorted(_TRAINING_METHODS))
_COMMENT = r"#[^\r\n]*[\r\n]"
# ``net.fit(`` with whatever Python allows between its tokens (``GAP``: line breaks,
# continuations, comments); plain whitespace, the common case, is tried first since this
# is searched in every file.
_FIT_CALL = (
    rf"\.[\s\\]*(?:{_FIT_NAMES}|{_COMMENT}{GAP}*(?:{_FIT_NAMES}))"
    rf"[\s\\]*(?:\(|{_COMMENT}{GAP}*\()"
)
# The callee of every call that creates a model the analysis follows is spelled with one
# of these words, which an import or module-level alias keeps in the text
# (semantics/models.py: Sequential, Model, Functional, load_model, clone_model, and local
# subclasses of keras.Model or Sequential). ``copy.deepcopy`` and local builder functions
# only pass on a model one of those calls made.
_MODEL_CREATION_WORD = "Model|Sequential|Functional|load_model|clone_model"

# Names as libcst reads them (raw text, which the rule compares): outside strings and
# comments, every non-ASCII character belongs to a name.
_NAME_CHAR = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
_NAME = _NAME_CHAR + "+"
_NAME_END = rf"(?!{_NAME_CHAR})"
# Not preceded by a name character or a dot: a whole name, not an attribute.
_NAME_START = r"(?<![^\x00-\x2d\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f])"
_RECEIVER = rf"(?P=receiver){_NAME_END}"

# Training calls are found by jumping from dot to dot (a dot is one character in thirty);
# a segment is the text after one dot up to and including the next.
_AFTER_TRAINING_DOT = rf"{GAP}*(?:{_TRAINING_NAMES}){GAP}*\("
_SEGMENT = r"[^.]*\."
_TRAINING_SEGMENT = rf"[^.]*\.(?={_AFTER_TRAINING_DOT})"
# What may stand between a receiver and its dot, comments aside: ``(net)\n  .fit``.
_PLAIN_CLOSE = r"[\s\\)]*"
_FIRST_RECEIVER = (
    rf"(?:{_SEGMENT})*?(?={_TRAINING_SEGMENT})"
    rf"[^.]*?{_NAME_START}(?P<receiver>{_NAME}){_PLAIN_CLOSE}\."
)
# A training segment is settled when its call is made on ``r``, on no name, or is no code.
# The dot before the segment may sit in a comment or a string, so a receiver counts only
# where that cannot matter: on the segment's only line (a comment there would hide the
# call too; a string would have to end, with a quote), or on a line starting in it.
_SETTLED_SEGMENTS = (
    rf"[ \t\f]*{_NAME}[ \t\f\\)]*\.",  # ``a.net.fit``: an attribute
    r"[^.]*?\([ \t\f]*\)[ \t\f\\)]*\.",  # ``super().fit``: a call
    rf"[^\r\n#'\".]*?{_NAME_START}{_RECEIVER}[ \t\f\\)]*\.",  # ``h = r.fit``
    rf"[^.]*[\r\n][^\r\n#'\".]*?{_NAME_START}{_RECEIVER}{_PLAIN_CLOSE}\.",  # ``\n r.fit``
    r"(?:[^.]*[\r\n])?[^\r\n#'\".]*#[^\r\n.'\"]*\.",  # in a comment
)
_SETTLED = "(?:" + "|".join(_SETTLED_SEGMENTS) + ")"
# A settled segment is recognised in a lookahead and then passed as a plain one: read
# through _SETTLED's overlapping alternatives, a failing search would retry each of them.
_ANOTHER_RECEIVER = (
    rf"(?:{_SEGMENT}(?!{_AFTER_TRAINING_DOT})"
    rf"|(?={_TRAINING_SEGMENT})(?={_SETTLED}){_SEGMENT})*?"
    rf"(?={_TRAINING_SEGMENT})(?!{_SETTLED})"
)

# After ``r`` and the ``=`` or ``:`` of ``r = a``, ``x = r = a``, ``r: T = a``: the rest
# of the statement, read token by token (characters, one-line strings, brackets nested up
# to _DEPTH deep), up to a final ``= name``. A token the reading cannot take (a
# triple-quoted or f-string, deeper brackets, a stray closing bracket) accepts the file.
_DEPTH = 4
_CONTINUATION = r"\\(?:\r\n?|\n)"
_STRING = (
    r"(?<![fF])(?<![fF][rR])(?!\"\"\"|''')"
    r"(?:\"(?:[^\"\\\r\n]|\\[\s\S])*\"|'(?:[^'\\\r\n]|\\[\s\S])*')"
)
_UNREADABLE_QUOTE = rf"(?!{_STRING})[\"']"
_OUTER_TOKEN = rf"[^()\[\]{{}}'\"#\\\r\n;]|{_STRING}|{_CONTINUATION}"
# (A comment is read to its line break in one piece: a comment the reading could cut
# anywhere would make a failing search exponential.)
_INNER_TOKEN = rf"[^()\[\]{{}}'\"#\\]|{_STRING}|#[^\r\n]*(?![^\r\n])|\\[\s\S]"


def _brackets(depth: int) -> str:
    """A bracketed group opened at ``depth`` (1: outermost), read to its end."""
    inner = f"|{_brackets(depth + 1)}" if depth < _DEPTH else ""
    return rf"[(\[{{](?:{_INNER_TOKEN}{inner})*[)\]}}]"


def _unreadable_brackets(depth: int) -> str:
    """A bracketed group opened at ``depth`` holding a token the reading cannot take."""
    if depth > _DEPTH:
        return r"[(\[{]"
    inner = f"|{_brackets(depth + 1)}" if depth < _DEPTH else ""
    return (
        rf"[(\[{{](?:{_INNER_TOKEN}{inner})*"
        rf"(?:{_UNREADABLE_QUOTE}|{_unreadable_brackets(depth + 1)})"
    )


_STATEMENT_TOKEN = rf"(?:{_OUTER_TOKEN}|{_brackets(1)})"
_UNREADABLE = rf"(?:{_UNREADABLE_QUOTE}|[)\]}}]|{_unreadable_brackets(1)})"
_IN_PARENS = GAP + "*"
_NAME_VALUE = (
    rf"=(?:[ \t\f]|{_CONTINUATION})*"
    rf"(?:{_NAME}|\({_IN_PARENS}{_NAME}{_IN_PARENS}\)"
    rf"|\({_IN_PARENS}\({_IN_PARENS}{_NAME}{_IN_PARENS}\){_IN_PARENS}\)"
    rf"|\({_IN_PARENS}\({_IN_PARENS}\()"  # deeper parentheses: accept
    rf"(?:[ \t\f]|{_CONTINUATION})*(?:[\r\n;#]|\Z)"
)
_WHOLE_TARGET_TAIL = (
    rf"(?:{_NAME_VALUE}"
    rf"|[=:](?:{_STATEMENT_TOKEN}*?{_NAME_VALUE}|{_STATEMENT_TOKEN}*{_UNREADABLE}))"
)
# An alias target ``r`` follows one of these characters and what _SKIP passes: a
# statement start (a line break, ``;``, the ``:`` of ``if x: r = a``), the ``=`` of a
# chained assignment, a tuple's comma, a list's bracket. A comment ends in a line break,
# itself an anchor, except after a comma, whose meaning (``c, r = x, a``) matters.
_ANCHORS = r"\r\n;:=,\["
_SKIP = r"[\s(\[\\]*"
_SKIP_COMMENTS = r"[\s(\[\\]*(?:#[^\r\n]*[\r\n][\s(\[\\]*)*"
_TARGET_CLOSE = r"(?:[\s\\)\]]|#[^\r\n]*[\r\n])*"
_CLOSE = r"(?:[\s\\)]|#[^\r\n]*[\r\n])*"
_ALIAS_OF_RECEIVER = (
    rf"(?:[^{_ANCHORS}]*[{_ANCHORS}])*?"
    rf"(?:(?<=,){_SKIP_COMMENTS}{_RECEIVER}{_TARGET_CLOSE}[=,]"  # ``c, r = x, a``
    rf"|{_SKIP}{_RECEIVER}(?:{_TARGET_CLOSE},"  # ``r, c = a, x``
    rf"|[\s\\)]*\]{_TARGET_CLOSE}=(?!=)"  # ``[r] = [a]``
    rf"|{_CLOSE}{_WHOLE_TARGET_TAIL}))"  # ``r = a``
)
# No training call whose receiver can be read (``(net  # c\n).fit``): accept.
_NO_FIRST_RECEIVER = _FIRST_RECEIVER.replace("(?P<receiver>", "(?:")
_ALIAS_OF_TRAINED_NAME = (
    rf"\A(?:(?={_FIRST_RECEIVER})(?:(?={_ANOTHER_RECEIVER})|{_ALIAS_OF_RECEIVER})"
    rf"|(?!{_NO_FIRST_RECEIVER}))"
)

_CLONE_MODEL = "keras.models.clone_model"

# How a file that imports Keras as ``<root>...`` imports ``clone_model`` itself.
_IMPORT_ROOTS = ("tensorflow.keras", "tf_keras", "keras")


# Which side of which ``if`` a node is on: (id of the ``if``, "body" or "orelse").
_Branches = Tuple[Tuple[int, str], ...]


@dataclass(frozen=True)
class _Alias:
    statement: cst.CSTNode
    target: cst.Name
    source: cst.Name
    value: ModelValue
    chain: Tuple[cst.CSTNode, ...]


@dataclass(frozen=True)
class _Training:
    call: cst.Call
    receiver: cst.Name
    method: str
    value: ModelValue
    origins: Tuple[cst.CSTNode, ...]
    chain: Tuple[cst.CSTNode, ...]
    branches: _Branches

    @property
    def fits(self) -> bool:
        return self.method in _FIT_METHODS

    def excludes(self, other: "_Training") -> bool:
        """Whether the two sit in different branches of one ``if`` (never both run)."""
        sides = dict(self.branches)
        return any(sides.get(if_id, side) != side for if_id, side in other.branches)


# ``b = a`` met in the traversal: the statement, ``b``, ``a`` and the loops and functions
# around it; ``a.fit(...)``: the call, ``a``, ``"fit"`` and where the call sits.
_Assignment = Tuple[cst.CSTNode, cst.Name, cst.Name, Tuple[cst.CSTNode, ...]]
_TrainingCall = Tuple[cst.Call, cst.Name, str, Tuple[cst.CSTNode, ...], _Branches]


@register
class ModelAliasTraining(Rule):
    """
    ## What it does
    Finds a Keras model bound to a second name by plain assignment (`model_copy = model`)
    and then compiled or trained through that name, where the one model object ends up
    trained more than once: the original name trains it too, or the assignment sits in
    a loop or in a function that runs more than once with the same model.

    ## Why is this bad?
    Assignment never copies a Python object: both names are one model. `compile()` does
    not reset its weights, so the second "run" silently continues from the first one's
    weights (in one measurement the second run's first-epoch loss was 4.1 where a fresh
    model starts at 13.3). Comparing learning rates, folds or architectures this way
    compares one long training run cut into pieces.

    ## Example
    ```python
    from tensorflow import keras

    model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])

    def comp_train(learning_rate):
        model_copy = model
        model_copy.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                           loss="categorical_crossentropy")
        return model_copy.fit(x_train, y_train, epochs=30)

    history_1 = comp_train(0.001)
    history_2 = comp_train(0.0001)
    ```

    ## Use instead
    Build a fresh model for every run:
    ```python
    from tensorflow import keras

    def build_model():
        return keras.Sequential([keras.layers.Dense(10, activation="softmax")])

    def comp_train(model, learning_rate):
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                      loss="categorical_crossentropy")
        return model.fit(x_train, y_train, epochs=30)

    history_1 = comp_train(build_model(), 0.001)
    history_2 = comp_train(build_model(), 0.0001)
    ```
    or clone it: `model_copy = keras.models.clone_model(model)` gives new layers with
    freshly initialised weights. Keras 2 returns the clone uncompiled: compile it before
    `fit`. To start from the trained weights instead, add
    `model_copy.set_weights(model.get_weights())`.

    ## Fix safety
    Unsafe: the fix replaces the alias with `keras.models.clone_model(...)` (spelled with
    the file's own imports, adding an import when it has none), which changes what the
    program trains on purpose: the copy starts from fresh weights. In Keras 2 a clone
    that is not compiled before `fit` raises an error.

    ## Known limits
    Only plain assignments of a name to a name (also inside tuple assignments) are
    aliases. Models kept in lists, dictionaries or attributes (`self.model = model`),
    passed to methods or across modules, or trained through an expression other than a
    name (`models[0].fit(...)`) are not followed. A function counts as running more than
    once when the file calls it twice or in a loop; calls in two branches of one `if`
    count twice, and so do trainings in two exclusive branches. Functions that are
    decorated or passed around (callbacks, `map`) are not followed. When a name may
    hold several models at that point (different models passed to one parameter, a
    model chosen in an `if`), or one the file does not build itself, the rule stays
    silent.
    """

    code = "KC001"
    name = "model-alias-training"
    summary = (
        "a Keras model bound to a second name and trained through it, so that one model "
        "object is trained more than once"
    )
    # See the trigger section at the top of the module.
    trigger = Trigger(_FIT_CALL, _MODEL_CREATION_WORD, _ALIAS_OF_TRAINED_NAME)

    VALID = [
        # The seed's own fix: a fresh model per run.
        Valid(
            """
            from tensorflow import keras

            def build_model():
                return keras.Sequential([keras.layers.Dense(10, activation="softmax")])

            def comp_train(model, learning_rate):
                model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate), loss="mse")
                return model.fit(x, y, epochs=30)

            first = comp_train(build_model(), 0.001)
            second = comp_train(build_model(), 0.0001)
            """
        ),
        # A real copy.
        Valid(
            """
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(1)])

            def run(learning_rate):
                model_copy = keras.models.clone_model(model)
                model_copy.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
                model_copy.fit(x, y)

            run(0.1)
            run(0.01)
            """
        ),
        Valid(
            """
            import copy
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            snapshot = copy.deepcopy(model)
            snapshot.fit(x2, y2)
            """
        ),
        # The alias is only used to predict, evaluate and save.
        Valid(
            """
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            best = model
            best.evaluate(x, y)
            best.predict(x)
            best.save("best.keras")
            """
        ),
        # Attribute stores are how callbacks and wrappers hold a model.
        Valid(
            """
            import keras

            class Trainer:
                def __init__(self, model):
                    self.model = model

                def run(self, x, y):
                    self.model.fit(x, y)

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            trainer = Trainer(model)
            trainer.run(x, y)
            """
        ),
        # scikit-learn estimators start from scratch on every fit.
        Valid(
            """
            from sklearn.linear_model import LogisticRegression
            clf = LogisticRegression()
            clf_copy = clf
            clf_copy.fit(x, y)
            clf.fit(x2, y2)
            """
        ),
        # Rebinding ends the alias.
        Valid(
            """
            from tensorflow import keras
            stateless_model = keras.Sequential([keras.layers.LSTM(8), keras.layers.Dense(1)])
            stateless_model.compile(optimizer="adam", loss="mse")
            stateless_model.fit(x, y)
            model = stateless_model
            model.evaluate(x, y)
            model = keras.Sequential([keras.layers.LSTM(8, stateful=True), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            """
        ),
        # Trained once: the alias is just another name.
        Valid(
            """
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential([Dense(1)])

            def train(learning_rate):
                net = model
                net.compile(optimizer="sgd", loss="mse")
                net.fit(x, y)

            train(0.1)
            """
        ),
        Valid(
            """
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            net = model
            net.fit(x, y, epochs=10)
            """
        ),
        # A fresh model is built inside the loop.
        Valid(
            """
            import keras
            for learning_rate in (0.1, 0.01):
                model = keras.Sequential([keras.layers.Dense(1)])
                run = model
                run.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
                run.fit(x, y)
            """
        ),
        # Only one of the two branches runs.
        Valid(
            """
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            if fine_tune:
                tuned = model
                tuned.fit(x_small, y_small, epochs=2)
            else:
                model.fit(x, y, epochs=20)
            """
        ),
        # Each call passes a different model.
        Valid(
            """
            import keras

            def build():
                return keras.Sequential([keras.layers.Dense(1)])

            def train(model, learning_rate):
                net = model
                net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
                net.fit(x, y)

            first = build()
            second = build()
            train(first, 0.1)
            train(second, 0.01)
            """
        ),
        # No model the analysis can see being created (no Sequential, Model, load_model...
        # call, no keras.Model subclass): the file is not even parsed for this rule.
        Valid(
            """
            from my_project.networks import build_network

            model = build_network()
            model.fit(x, y)
            tuned = model
            tuned.fit(x_small, y_small)
            """
        ),
    ]
    INVALID = [
        # The seed: the alias is made inside a function called once per learning rate.
        Invalid(
            """
            from tensorflow import keras
            from tensorflow.keras import layers

            model = keras.Sequential([layers.Dense(10, activation="softmax")])

            def comp_train(learning_rate):
                model_copy = model
                model_copy.compile(loss="categorical_crossentropy",
                                   optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate))
                return model_copy.fit(x_train, y_train, epochs=30).history

            lr_0_001 = comp_train(0.001)
            lr_0_0001 = comp_train(0.0001)
            """,
            line=8,
            message="`model_copy` is the same object as `model`, not a copy: every call of `comp_train()`",
            expected_fix="""
            from tensorflow import keras
            from tensorflow.keras import layers

            model = keras.Sequential([layers.Dense(10, activation="softmax")])

            def comp_train(learning_rate):
                model_copy = keras.models.clone_model(model)
                model_copy.compile(loss="categorical_crossentropy",
                                   optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate))
                return model_copy.fit(x_train, y_train, epochs=30).history

            lr_0_001 = comp_train(0.001)
            lr_0_0001 = comp_train(0.0001)
            """,
        ),
        # A loop over learning rates aliasing a module-level model.
        Invalid(
            """
            import tensorflow as tf
            base = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            histories = {}
            for lr in [0.1, 0.01, 0.001]:
                model = base
                model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=lr), loss="mse")
                histories[lr] = model.fit(x, y, epochs=5)
            """,
            line=6,
            message="every iteration of the loop on line 5 keeps training one model",
            expected_fix="""
            import tensorflow as tf
            base = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            histories = {}
            for lr in [0.1, 0.01, 0.001]:
                model = tf.keras.models.clone_model(base)
                model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=lr), loss="mse")
                histories[lr] = model.fit(x, y, epochs=5)
            """,
        ),
        # Two names trained one after the other; the file cannot spell clone_model yet.
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import Dense
            model = Sequential()
            model.add(Dense(1, input_dim=4))
            model.compile(optimizer="sgd", loss="mse")
            baseline = model
            baseline.fit(x, y, epochs=10)
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=10)
            """,
            line=7,
            message="`model.fit()` on line 10 trains it too",
            expected_fix="""
            from keras.models import Sequential
            from keras.layers import Dense
            from keras.models import clone_model
            model = Sequential()
            model.add(Dense(1, input_dim=4))
            model.compile(optimizer="sgd", loss="mse")
            baseline = clone_model(model)
            baseline.fit(x, y, epochs=10)
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=10)
            """,
        ),
        # A builder's result, aliased and trained by both names.
        Invalid(
            """
            from tensorflow.keras.layers import Dense, Input
            from tensorflow.keras.models import Model

            def build():
                inputs = Input(shape=(4,))
                return Model(inputs, Dense(1)(inputs))

            reference = build()
            reference.compile(optimizer="adam", loss="mse")
            reference.fit(x, y)
            candidate = reference
            candidate.compile(optimizer="sgd", loss="mse")
            candidate.fit(x, y)
            """,
            line=12,
            message="`candidate` is the same object as `reference`",
            expected_fix="""
            from tensorflow.keras.layers import Dense, Input
            from tensorflow.keras.models import Model
            from tensorflow.keras.models import clone_model

            def build():
                inputs = Input(shape=(4,))
                return Model(inputs, Dense(1)(inputs))

            reference = build()
            reference.compile(optimizer="adam", loss="mse")
            reference.fit(x, y)
            candidate = clone_model(reference)
            candidate.compile(optimizer="sgd", loss="mse")
            candidate.fit(x, y)
            """,
        ),
        # The parameter form: both calls pass the same model.
        Invalid(
            """
            import keras

            def build():
                return keras.Sequential([keras.layers.Dense(1)])

            def train(model, learning_rate):
                net = model
                net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
                return net.fit(x, y)

            shared = build()
            train(shared, 0.1)
            train(shared, 0.01)
            """,
            line=8,
            message="every call of `train()` keeps training one model (called on line 13 and line 14)",
        ),
        # A tuple assignment in a loop over folds, Keras 2 style.
        Invalid(
            """
            import tf_keras
            model = tf_keras.models.load_model("pretrained.h5")
            for fold in range(5):
                fold_model, name = model, f"fold{fold}"
                fold_model.compile(optimizer="adam", loss="mse")
                fold_model.fit_generator(batches(fold), epochs=3)
            """,
            line=5,
            expected_fix="""
            import tf_keras
            model = tf_keras.models.load_model("pretrained.h5")
            for fold in range(5):
                fold_model, name = tf_keras.models.clone_model(model), f"fold{fold}"
                fold_model.compile(optimizer="adam", loss="mse")
                fold_model.fit_generator(batches(fold), epochs=3)
            """,
        ),
        # The model is created only through an import alias, aliased by a chained
        # assignment, and trained by train_on_batch written across lines.
        Invalid(
            """
            from tensorflow.keras.models import load_model as restore

            model = restore("pretrained.h5")
            model.train_on_batch(x, y)
            tuned = backup = model
            (tuned
                .train_on_batch(x_small, y_small))
            """,
            line=6,
            message="`model.train_on_batch()` on line 5 trains it too",
            expected_fix="""
            from tensorflow.keras.models import load_model as restore
            from tensorflow.keras.models import clone_model

            model = restore("pretrained.h5")
            model.train_on_batch(x, y)
            tuned = backup = clone_model(model)
            (tuned
                .train_on_batch(x_small, y_small))
            """,
        ),
        # Only compiled through the alias: the fit through the original name in the same
        # loop still continues one model; the only model word is a subclass's base.
        Invalid(
            """
            import keras


            class Regressor(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.dense = keras.layers.Dense(1)

                def call(self, inputs):
                    return self.dense(inputs)


            base = Regressor()
            for learning_rate in (0.1, 0.01):
                candidate = base
                candidate.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
                base.fit(x, y)
            """,
            line=16,
            message="every iteration of the loop on line 15 keeps training one model",
        ),
        # The first name a training call is made on is not the alias: another receiver
        # (the scaler) comes first; the alias is used in a function written above it and
        # is annotated, its value on a line of its own.
        Invalid(
            """
            import keras
            from sklearn.preprocessing import StandardScaler

            scaler = StandardScaler()
            scaler.fit(x)
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")


            def fine_tune():
                tuned.fit(x_small, y_small)


            tuned: keras.Model = (
                model  # the same object
            )
            model.fit(x, y)
            fine_tune()
            """,
            line=15,
            message="`model.fit()` on line 18 trains it too",
        ),
        # Every training call is made on the alias: the trigger must find the alias
        # itself, here the last name of a tuple, after a comment.
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])


            def fine_tune(x_small, y_small):
                (run_name,  # the run's name
                 tuned) = ("fine-tune", model)
                tuned.fit(x_small, y_small)


            fine_tune(x1, y1)
            fine_tune(x2, y2)
            """,
            line=9,
            message="called on line 13 and line 14",
        ),
        # ... and here annotated, its value in parentheses on a line of its own.
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])


            def fine_tune(x_small, y_small):
                tuned: keras.Model = (
                    model  # the same object
                )
                tuned.fit(x_small, y_small)


            fine_tune(x1, y1)
            fine_tune(x2, y2)
            """,
            line=8,
            message="called on line 14 and line 15",
        ),
    ]

    def __init__(self, context: "FileContext") -> None:
        super().__init__(context)
        self._chain: List[cst.CSTNode] = []
        self._branches: List[Tuple[int, str]] = []
        # Name-to-name assignments and training calls on a name, as the traversal meets
        # them. Which hold a model is asked once the module is done, and only when some
        # call is on a name some assignment binds: the model analysis is most of this
        # rule's cost.
        self._assignments: List[_Assignment] = []
        self._training_calls: List[_TrainingCall] = []
        self._aliases: List[_Alias] = []
        self._trainings: List[_Training] = []

    # ---- where code repeats ----------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._chain.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._chain.pop()

    def visit_For_body(self, node: cst.For) -> None:
        self._chain.append(node)

    def leave_For_body(self, node: cst.For) -> None:
        self._chain.pop()

    def visit_While_body(self, node: cst.While) -> None:
        self._chain.append(node)

    def leave_While_body(self, node: cst.While) -> None:
        self._chain.pop()

    def visit_If_body(self, node: cst.If) -> None:
        self._branches.append((id(node), "body"))

    def leave_If_body(self, node: cst.If) -> None:
        self._branches.pop()

    def visit_If_orelse(self, node: cst.If) -> None:
        self._branches.append((id(node), "orelse"))

    def leave_If_orelse(self, node: cst.If) -> None:
        self._branches.pop()

    # ---- what is aliased and trained -------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        pairs = [pair for target in node.targets for pair in _name_pairs(target.target, node.value)]
        self._note_aliases(node, pairs)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._note_aliases(node, list(_name_pairs(node.target, node.value)))

    def _note_aliases(self, statement: cst.CSTNode, pairs: List[Tuple[cst.Name, cst.Name]]) -> None:
        for target, source in pairs:
            if target.value != source.value:
                self._assignments.append((statement, target, source, tuple(self._chain)))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in _TRAINING_METHODS
            and isinstance(func.value, cst.Name)
        ):
            self._training_calls.append(
                (node, func.value, func.attr.value, tuple(self._chain), tuple(self._branches))
            )

    def _find_models(self) -> None:
        """The aliases and trainings among the assignments and calls met: those of models."""
        for statement, target, source, chain in self._assignments:
            value = self._models.value_of(source)
            if value is not None:
                self._aliases.append(_Alias(statement, target, source, value, chain))
        for call, receiver, method, chain, branches in self._training_calls:
            value = self._models.value_of(receiver)
            if value is not None:
                origins = self._models.origins_of(receiver)
                self._trainings.append(
                    _Training(call, receiver, method, value, origins, chain, branches)
                )

    @property
    def _models(self) -> ModelFacts:
        return self.context.semantics.models

    # ---- deciding --------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        aliased = {target.value for _, target, _, _ in self._assignments}
        if not any(receiver.value in aliased for _, receiver, *_ in self._training_calls):
            return  # nothing is trained through a name an alias binds: nothing to report
        self._find_models()
        for alias in self._aliases:
            through_alias = [t for t in self._trainings if _goes_through(t, alias)]
            if not through_alias:
                continue  # only predicted with, evaluated, saved: harmless
            consequence = self._second_training(alias, through_alias)
            if consequence is not None:
                self._report(alias, consequence)

    def _second_training(self, alias: _Alias, through_alias: List[_Training]) -> Optional[str]:
        """How the model gets trained a second time, in words; None if it is not."""
        same_model = [t for t in self._trainings if t.value is alias.value]
        for fit in (t for t in through_alias if t.fits):
            for other in same_model:
                if other.fits and other not in through_alias and not other.excludes(fit):
                    where = self.context.line_of(other.call)
                    return (
                        f"`{other.receiver.value}.{other.method}()` on line {where} trains it too, "
                        "so one run silently continues from the other's weights"
                    )
        for training in through_alias:
            shared = _common_prefix(alias.chain, training.chain)
            region = self._repeating_region(shared, alias.value)
            if region is not None and any(t.fits and region in t.chain for t in same_model):
                return self._describe_repetition(region)
        return None

    def _repeating_region(
        self, chain: Sequence[cst.CSTNode], value: ModelValue
    ) -> Optional[cst.CSTNode]:
        """The innermost loop or function in ``chain`` that runs repeatedly with the same
        model object ``value``, or None."""
        for node in reversed(chain):
            if value.created_inside(node):
                return None  # each run of ``node`` makes a fresh model
            if isinstance(node, LOOP_NODES):
                return node
            if isinstance(node, cst.FunctionDef):
                return node if self._runs_repeatedly(node, value, set()) else None
        return None

    def _runs_repeatedly(
        self, function: cst.FunctionDef, value: ModelValue, seen: Set[int]
    ) -> bool:
        if id(function) in seen:
            return False
        seen.add(id(function))
        sites = self._models.call_sites(function)
        if not sites:
            return False  # callers unknown (or never called here): cannot tell
        if len(sites) > 1:
            return True
        for node in reversed(sites[0].enclosing):
            if value.created_inside(node):
                return False
            if isinstance(node, LOOP_NODES):
                return True
            if isinstance(node, cst.FunctionDef):
                return self._runs_repeatedly(node, value, seen)
        return False

    def _describe_repetition(self, region: cst.CSTNode) -> str:
        if isinstance(region, cst.FunctionDef):
            sites = self._models.call_sites(region) or ()
            lines = [f"line {self.context.line_of(site.call)}" for site in sites]
            # One "line N" per reference: notebooks rewrite them into cell rows.
            called = " and ".join([", ".join(lines[:-1]), lines[-1]] if len(lines) > 1 else lines)
            return (
                f"every call of `{region.name.value}()` keeps training one model (called on "
                f"{called}), each run starting from the weights the previous one left"
            )
        return (
            f"every iteration of the loop on line {self.context.line_of(region)} keeps training "
            "one model, each run starting from the weights the previous one left"
        )

    # ---- reporting -------------------------------------------------------------------

    def _report(self, alias: _Alias, consequence: str) -> None:
        imports = self.context.semantics.imports
        spelled = imports.spelling_for(_CLONE_MODEL)
        changes: List[Union[Replace, InsertAtTop]] = []
        if spelled is None:
            spelled = "clone_model"
            changes.append(
                InsertAtTop(f"from {_import_root(self.context.module)}.models import clone_model")
            )
        clone = f"{spelled}({alias.source.value})"
        changes.insert(0, Replace(alias.source, clone))
        compile_note = _compile_note(imports.flavor)
        self.report(
            alias.target,
            f"`{alias.target.value}` is the same object as `{alias.source.value}`, not a copy: "
            f"{consequence}",
            help=(
                "build a fresh model for each run (preferred), or make a real copy with "
                f"`{clone}` ({compile_note})"
            ),
            fix=FixSpec.unsafe(f"Train a clone: `{clone}` ({compile_note})", *changes),
        )


def _name_pairs(
    target: cst.BaseExpression, value: cst.BaseExpression
) -> Iterator[Tuple[cst.Name, cst.Name]]:
    """``b = a`` and the name-to-name parts of ``b, c = a, x``."""
    if isinstance(target, cst.Name) and isinstance(value, cst.Name):
        yield target, value
    elif (
        isinstance(target, (cst.Tuple, cst.List))
        and isinstance(value, (cst.Tuple, cst.List))
        and len(target.elements) == len(value.elements)
        and not any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements))
    ):
        for left, right in zip(target.elements, value.elements):
            yield from _name_pairs(left.value, right.value)


def _goes_through(training: _Training, alias: _Alias) -> bool:
    """Whether the name ``training`` is called on may have been bound by ``alias``."""
    return (
        training.value is alias.value
        and training.receiver.value == alias.target.value
        and any(origin is alias.statement for origin in training.origins)
    )


def _common_prefix(
    first: Sequence[cst.CSTNode], second: Sequence[cst.CSTNode]
) -> List[cst.CSTNode]:
    shared = []
    for a, b in zip(first, second):
        if a is not b:
            break
        shared.append(a)
    return shared


def _compile_note(flavor: KerasFlavor) -> str:
    if flavor is KerasFlavor.KERAS3:
        return "fresh weights; Keras 3 returns it compiled like the original"
    if flavor is KerasFlavor.KERAS2:
        return "fresh weights; compile it before `fit`, Keras 2 returns it uncompiled"
    return "fresh weights; compile it before `fit` in Keras 2, which returns it uncompiled"


def _import_root(module: cst.Module) -> str:
    """The package this file imports Keras from: ``tensorflow.keras``, ``tf_keras``..."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            for name in _imported_modules(small):
                for root in _IMPORT_ROOTS:
                    if name == root or name.startswith(root + "."):
                        return root
    return "keras"


def _imported_modules(node: cst.BaseSmallStatement) -> List[str]:
    if isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative:
        return [dotted_name(node.module) or ""]
    if isinstance(node, cst.Import):
        return [dotted_name(alias.name) or "" for alias in node.names]
    return []
