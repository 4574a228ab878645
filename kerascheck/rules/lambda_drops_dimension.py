from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

import libcst as cst

from ..context import FileContext
from ..registry import (
    GAP,
    FixChange,
    FixSpec,
    InsertAtTop,
    Invalid,
    Replace,
    Rule,
    Trigger,
    Valid,
    register,
)
from ..semantics.imports import KerasFlavor
from ..semantics.ranks import (
    UNKNOWN,
    Frame,
    FunctionResult,
    LambdaApplication,
    Thunk,
    may_apply_layer,
)

_OPS_IMPORT = "from keras import ops"

# Longest ``output_shape=`` source shown in a message before it is shortened.
_MAX_SHOWN = 40

# ---- trigger: the text a finding needs --------------------------------------------------
# A finding needs a Keras ``Lambda`` call that declares an output shape, by keyword or as
# its second positional argument (``visit_Call``); nothing else can be asked of the text,
# since the function's result may have a known rank whatever the input is (``lambda t:
# K.max(t)`` has rank 0). A callee is Keras' ``Lambda`` when it ends in the identifier
# ``Lambda`` or in a module-level alias of it: ``import ... Lambda as L``, or an assignment
# ``L = layers.Lambda`` (``L = M`` with ``M`` such an alias goes back to one of these).

# A one-line string without escapes, read as one token. Not an f-string (its replacement
# fields may hold the same quote) nor a piece of a triple-quoted string.
_STRING = r"""(?<![fF])(?<![fF][rR])(?:'[^'\\\r\n]+'(?!')|"[^"\\\r\n]+"(?!"))"""
# Brackets in code that parses pair up in order, whatever their kinds.
_OPEN, _CLOSE = r"[(\[{]", r"[)\]}]"
_MAX_NESTING = 4


def _bracketed(depth: int) -> str:
    """Brackets and what they hold, nested at most ``depth`` deep."""
    inner = rf"""[^()\[\]{{}}'"#\\]|{_STRING}"""
    if depth > 1:
        inner += "|" + _bracketed(depth - 1)
    return rf"{_OPEN}(?:{inner})*{_CLOSE}"


_BRACKETED = _bracketed(_MAX_NESTING)
# After a comma, what cannot start a positional argument: a keyword argument (or, in a
# lambda's parameters, a default), or the call's ``)`` after a trailing comma.
_NO_POSITIONAL_AHEAD = r"\s*(?:\w+\s*=(?!=)|\))"
# The arguments of a call are read from its ``(`` token by token: plain code, strings,
# brackets, and the commas above are stepped over ...
_STEP = rf"""(?:[^()\[\]{{}}'"#\\,]|{_STRING}|{_BRACKETED}|,(?={_NO_POSITIONAL_AHEAD}))"""
# ... up to any other comma, or to code the reading does not follow (a comment, a
# continuation, any other string, deeper brackets), where a second positional argument
# may start. A call whose reading reaches its ``)`` has at most one.
_MAYBE_SECOND_POSITIONAL = (
    rf"""(?:,(?!{_NO_POSITIONAL_AHEAD})|[#\\]|(?!{_STRING})['"]|(?!{_BRACKETED}){_OPEN})"""
)
_DECLARES_OUTPUT_SHAPE = (
    r"Lambda(?<!\wLambda)(?:"
    # ``Lambda(f, (1,))``, also ``(layers.Lambda)(...)``;
    rf"(?:{GAP}|\))*\({_STEP}*{_MAYBE_SECOND_POSITIONAL}"
    # an alias: ``Lambda as L``;
    rf"|{GAP}+as\b"
    # an alias: ``L = layers.Lambda``, a statement ending in ``Lambda`` but no import;
    r"|(?<!import Lambda)(?<!,Lambda)(?<!, Lambda)(?=[^\S\r\n]*(?:[\r\n;#)\\]|\Z)))"
    # or ``output_shape=`` as a keyword argument.
    rf"|[(,]{GAP}*output_shape{GAP}*=(?!=)"
)


# Where ``expand_dims`` may come from, per Keras flavour: groups in order of preference,
# the shortest spelling within a group. With the flavour unknown, ``tf.expand_dims``
# serves both tf.keras flavours, and Keras 3 (the current one) comes before Keras 2.
_EXPAND_DIMS = {
    KerasFlavor.KERAS2: [["keras.backend.expand_dims", "tensorflow.expand_dims"]],
    KerasFlavor.KERAS3: [["keras.ops.expand_dims"]],
    KerasFlavor.UNKNOWN: [
        ["tensorflow.expand_dims"],
        ["keras.ops.expand_dims"],
        ["keras.backend.expand_dims"],
    ],
}


@dataclass(frozen=True)
class _Declared:
    """What ``output_shape`` declares: the rank, and the shape as the user reads it."""

    rank: int
    shape: str


@register
class LambdaDropsDimension(Rule):
    """
    ## What it does
    Finds `Lambda` layers whose function returns a tensor of another rank than the
    `output_shape` they declare, such as `(x[:, 0] + x[:, 1]) / 2`, of shape `(batch,)`,
    declared as `output_shape=(1,)`, that is `(batch, 1)`.

    ## Why is this bad?
    Keras never checks `output_shape` against what the function really returns. Keras 3
    reports the declared `(None, 1)` while the tensor is `(batch,)`, so every layer after
    the `Lambda` is built from a wrong shape, with no error and no warning. A loss or
    metric called directly on the output (a custom training loop, a manual evaluation)
    broadcasts `(N, 1) - (N,)` into an `(N, N)` matrix and returns a wrong number.
    (`compile()`/`fit()` align the ranks of `y_true` and `y_pred` for their own losses,
    which is why the bug often shows up only outside them.)

    ## Example
    ```python
    from keras import layers, ops

    inputs = layers.Input(shape=(2,))
    mean = layers.Lambda(lambda x: (x[:, 0] + x[:, 1]) / 2, output_shape=(1,))(inputs)
    ```

    ## Use instead
    Keep the axis: slice instead of indexing (`x[:, 0:1]`), pass `keepdims=True` to the
    reduction, or add the axis back with `expand_dims(..., -1)` (`keras.ops.expand_dims`
    in Keras 3, `K.expand_dims` or `tf.expand_dims` in Keras 2):
    ```python
    from keras import layers, ops

    inputs = layers.Input(shape=(2,))
    mean = layers.Lambda(lambda x: ops.mean(x, axis=1, keepdims=True), output_shape=(1,))(inputs)
    ```

    ## Fix safety
    Unsafe: the fix changes the shape the layer computes, on purpose. When exactly one
    axis is missing it keeps it: `keepdims=True` on an outermost reduction over one axis,
    `k:k+1` for an outermost integer index on a feature axis, otherwise the returned
    expression wrapped in `expand_dims(..., -1)`, spelled with the names the file imports
    for its Keras (when it has none, an import is added: `keras.ops` for Keras 3, the
    backend as `K` for Keras 2, TensorFlow when the flavour is unknown and Keras comes from
    `tensorflow.keras`). It edits the function itself: the lambda's body, or the `return`
    of the named `def` (which other callers share).

    ## Known limits
    Only applied layers are checked (`Lambda(f, ...)(t)`, or `layer(t)` after
    `layer = Lambda(...)`), when the rank of `t` is known (or the result's rank does not
    depend on it, as for a reduction over every axis): from `Input(shape=...)` or
    `Input(batch_shape=...)`, through layers of plain output rank (`Dense`, convolutions,
    pooling and other rank-keeping layers, `Embedding`, `Flatten`, global pooling,
    `Reshape`, `RepeatVector`, recurrent layers by `return_sequences`, merging layers,
    another `Lambda`), through lists of those, and through plain assignments (and tuple
    unpacking) in the module or the enclosing function; a name rebound in a loop or a
    branch is unknown until its next plain assignment. `output_shape` (by keyword or as the
    second argument) must be a tuple or list literal (or a name bound to one), or a lambda
    or `def` returning a tuple literal. The function must be a lambda or
    a `def` of the file; its body is read through plain assignments, calls of the file's
    functions, indexing, the reductions of `K`, `keras.ops`, `tf`, numpy and tensor
    methods with their own default axes, `expand_dims`, `squeeze(axis=...)`, `reshape`
    to a literal shape, `stack`, `concatenate` and elementwise functions. Anything else
    (a `squeeze` without axis, an axis held in a variable of unknown value, matrix
    products, `Sequential` models, input ranks from parameters) makes the rank unknown,
    and the rule then stays silent.
    """

    code = "KC003"
    name = "lambda-drops-dimension"
    summary = "a `Lambda` whose function returns another rank than its declared `output_shape`"
    # The identifier ``Lambda`` (scanned for fast), and a call of it declaring an output shape.
    trigger = Trigger(r"Lambda\b", _DECLARES_OUTPUT_SHAPE)

    VALID = [
        # The seed, fixed: the axis is added back.
        Valid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda

            def calc_mean(x):
                res = (x[::, 0] + x[::, 1]) / 2
                res = K.expand_dims(res, -1)
                return res

            x = Input(name="x", shape=(2,))
            x_mean = Lambda(lambda x: calc_mean(x), output_shape=(1,))(x)
            """
        ),
        Valid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(2,))
            first = Lambda(lambda t: t[:, 0:1], output_shape=(1,))(x)
            """
        ),
        Valid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(4,))
            total = Lambda(lambda t: K.sum(t, axis=1, keepdims=True), output_shape=(1,))(x)
            """
        ),
        Valid(
            """\
            import tensorflow as tf
            from tensorflow.keras.layers import Input, Lambda
            seq = Input(shape=(10, 8))
            pooled = Lambda(lambda t: tf.reduce_mean(t, axis=1), output_shape=(8,))(seq)
            """
        ),
        Valid(
            """\
            import keras
            from keras import layers
            inp = keras.Input(shape=(10, 8))
            out = layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True),
                                output_shape=(10, 1))(inp)
            """
        ),
        # A callable output_shape that agrees.
        Valid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(10, 8))
            m = Lambda(lambda t: K.max(t, axis=1), output_shape=lambda s: (s[0], s[2]))(x)
            """
        ),
        # Two inputs, one rank.
        Valid(
            """\
            from keras.layers import Input, Lambda
            a = Input(shape=(3,))
            b = Input(shape=(3,))
            diff = Lambda(lambda t: t[0] - t[1], output_shape=(3,))([a, b])
            """
        ),
        # The input's rank is unknown: silent.
        Valid(
            """\
            from keras.layers import Lambda
            def head(features):
                return Lambda(lambda t: t[:, 0], output_shape=(1,))(features)
            """
        ),
        # No output_shape declared: nothing to compare.
        Valid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(2,))
            y = Lambda(lambda t: t[:, 0])(x)
            """
        ),
        # Not Keras' Lambda.
        Valid(
            """\
            from mylib import Input, Lambda
            x = Input(shape=(2,))
            y = Lambda(lambda t: t[:, 0], output_shape=(1,))(x)
            """
        ),
        # Keyword arguments only (a comma inside a lambda's parameters, a string holding
        # one, a trailing comma): no output shape declared.
        Valid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(2,))
            y = Lambda(
                lambda t, k=0: t[:, k],
                name="first, second",
            )(x)
            """
        ),
    ]
    INVALID = [
        # The seed.
        Invalid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            from keras.models import Model

            def calc_mean(x):
                res = (x[::, 0] + x[::, 1]) / 2
                return res

            def create_lambda_model():
                x = Input(name="x", shape=(2,))
                x_mean = Lambda(lambda x: calc_mean(x), output_shape=(1,))(x)
                return Model(inputs=x, outputs=x_mean)
            """,
            line=11,
            message=(
                "`Lambda` returns rank 1 (batch,) but declares `output_shape=(1,)`, i.e. "
                "(batch, 1): Keras does not check this, so the next layers and any directly "
                "called loss see the wrong shape"
            ),
            expected_fix="""\
            import keras.backend as K
            from keras.layers import Input, Lambda
            from keras.models import Model

            def calc_mean(x):
                res = (x[::, 0] + x[::, 1]) / 2
                return res

            def create_lambda_model():
                x = Input(name="x", shape=(2,))
                x_mean = Lambda(lambda x: K.expand_dims(calc_mean(x), -1), output_shape=(1,))(x)
                return Model(inputs=x, outputs=x_mean)
            """,
        ),
        Invalid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(2,))
            first = Lambda(lambda t: t[:, 0], output_shape=(1,))(x)
            """,
            line=3,
            expected_fix="""\
            from keras.layers import Input, Lambda
            x = Input(shape=(2,))
            first = Lambda(lambda t: t[:, 0:1], output_shape=(1,))(x)
            """,
        ),
        Invalid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(4,))
            total = Lambda(lambda t: K.sum(t, axis=1), output_shape=(1,))(x)
            """,
            line=4,
            expected_fix="""\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(4,))
            total = Lambda(lambda t: K.sum(t, axis=1, keepdims=True), output_shape=(1,))(x)
            """,
        ),
        # A reduction over every axis of a rank-3 input: more than one axis is missing.
        Invalid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            seq = Input(shape=(10, 8))
            peak = Lambda(lambda t: K.max(t), output_shape=(1,))(seq)
            """,
            line=4,
            message="returns rank 0 ()",
        ),
        Invalid(
            """\
            import tensorflow as tf
            from tensorflow.keras.layers import Input, Lambda
            seq = Input(shape=(10, 8))
            pooled = Lambda(lambda t: tf.reduce_mean(t, axis=-1), output_shape=(10, 1))(seq)
            """,
            line=4,
            expected_fix="""\
            import tensorflow as tf
            from tensorflow.keras.layers import Input, Lambda
            seq = Input(shape=(10, 8))
            pooled = Lambda(lambda t: tf.reduce_mean(t, axis=-1, keepdims=True), output_shape=(10, 1))(seq)
            """,
        ),
        Invalid(
            """\
            import keras
            from keras import layers
            inp = keras.Input(shape=(10, 8))
            out = layers.Lambda(lambda t: keras.ops.mean(t, axis=-1), output_shape=(10, 1))(inp)
            """,
            line=4,
            expected_fix="""\
            import keras
            from keras import layers
            inp = keras.Input(shape=(10, 8))
            out = layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True), output_shape=(10, 1))(inp)
            """,
        ),
        # A callable output_shape declaring rank 2 for a rank-1 result; Keras 3 spelling.
        Invalid(
            """\
            from keras import layers, ops

            def to_scalar(t):
                return ops.sum(t * t) / 2

            inp = layers.Input(shape=(5,))
            energy = layers.Lambda(to_scalar, output_shape=lambda s: (s[0], 1))(inp)
            """,
            line=7,
            message="i.e. rank 2",
        ),
        # A named def, fixed at its return; `import keras` spells `keras.ops`.
        Invalid(
            """\
            import keras
            from keras.layers import Dense, Input, Lambda

            def first_minus_second(t):
                return t[:, 0] - t[:, 1]

            inp = Input(shape=(2,))
            hidden = Dense(2)(inp)
            diff = Lambda(first_minus_second, output_shape=(1,))(hidden)
            model = keras.Model(inp, diff)
            """,
            line=9,
            expected_fix="""\
            import keras
            from keras.layers import Dense, Input, Lambda

            def first_minus_second(t):
                return keras.ops.expand_dims(t[:, 0] - t[:, 1], -1)

            inp = Input(shape=(2,))
            hidden = Dense(2)(inp)
            diff = Lambda(first_minus_second, output_shape=(1,))(hidden)
            model = keras.Model(inp, diff)
            """,
        ),
        # A layer bound to a name and applied later; Keras 3 found by `keras.ops` imports.
        Invalid(
            """\
            from keras.layers import Input, Lambda
            from keras.ops import expand_dims, sum as ops_sum
            inp = Input(batch_shape=(None, 3))
            norm = Lambda(lambda t: ops_sum(t * t, axis=1) ** 0.5, output_shape=(1,))
            out = norm(inp)
            """,
            line=4,
            expected_fix="""\
            from keras.layers import Input, Lambda
            from keras.ops import expand_dims, sum as ops_sum
            inp = Input(batch_shape=(None, 3))
            norm = Lambda(lambda t: expand_dims(ops_sum(t * t, axis=1) ** 0.5, -1), output_shape=(1,))
            out = norm(inp)
            """,
        ),
        # Nothing imported spells expand_dims: the import is added (Keras 3 by default).
        Invalid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(3,))
            y = Lambda(lambda t: (t[:, 0] + t[:, 1] + t[:, 2]) / 3, output_shape=(1,))(x)
            """,
            line=3,
            expected_fix="""\
            from keras.layers import Input, Lambda
            from keras import ops
            x = Input(shape=(3,))
            y = Lambda(lambda t: ops.expand_dims((t[:, 0] + t[:, 1] + t[:, 2]) / 3, -1), output_shape=(1,))(x)
            """,
        ),
        # ... TensorFlow's for tf.keras of either Keras ...
        Invalid(
            """\
            from tensorflow.keras.layers import Input, Lambda
            x = Input(shape=(2,))
            y = Lambda(lambda t: t[:, 0] + t[:, 1], output_shape=(1,))(x)
            """,
            line=3,
            expected_fix="""\
            from tensorflow.keras.layers import Input, Lambda
            import tensorflow as tf
            x = Input(shape=(2,))
            y = Lambda(lambda t: tf.expand_dims(t[:, 0] + t[:, 1], -1), output_shape=(1,))(x)
            """,
        ),
        # ... and for Keras 2 (here tf.keras 2, told by `fit_generator`), the backend.
        Invalid(
            """\
            from tensorflow.keras.layers import Input, Lambda
            from tensorflow.keras.models import Model
            x = Input(shape=(2,))
            y = Lambda(lambda t: t[:, 0] * t[:, 1], output_shape=(1,))(x)
            model = Model(x, y)
            model.fit_generator(batches(), steps_per_epoch=10)
            """,
            line=4,
            expected_fix="""\
            from tensorflow.keras.layers import Input, Lambda
            from tensorflow.keras.models import Model
            from tensorflow.keras import backend as K
            x = Input(shape=(2,))
            y = Lambda(lambda t: K.expand_dims(t[:, 0] * t[:, 1], -1), output_shape=(1,))(x)
            model = Model(x, y)
            model.fit_generator(batches(), steps_per_epoch=10)
            """,
        ),
        # Tensor methods, torch style (dim/keepdim), and an explicit keepdims=False.
        Invalid(
            """\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(6,))
            s = Lambda(lambda t: t.sum(dim=1), output_shape=(1,))(x)
            m = Lambda(lambda t: K.mean(t, axis=1, keepdims=False), output_shape=(1,))(x)
            """,
            line=4,
            count=2,
            expected_fix="""\
            import keras.backend as K
            from keras.layers import Input, Lambda
            x = Input(shape=(6,))
            s = Lambda(lambda t: t.sum(dim=1, keepdim=True), output_shape=(1,))(x)
            m = Lambda(lambda t: K.mean(t, axis=1, keepdims=True), output_shape=(1,))(x)
            """,
        ),
        # Indexes after an ellipsis or from the end are sliced as well.
        Invalid(
            """\
            from keras.layers import Input, Lambda
            seq = Input(shape=(10, 4))
            last = Lambda(lambda t: t[..., -1], output_shape=(10, 1))(seq)
            third = Lambda(lambda t: t[:, :, 2], output_shape=(10, 1))(seq)
            """,
            line=3,
            count=2,
            expected_fix="""\
            from keras.layers import Input, Lambda
            seq = Input(shape=(10, 4))
            last = Lambda(lambda t: t[..., -1:], output_shape=(10, 1))(seq)
            third = Lambda(lambda t: t[:, :, 2:3], output_shape=(10, 1))(seq)
            """,
        ),
        # An extra axis: reported, but no simple fix.
        Invalid(
            """\
            from keras.layers import Input, Lambda
            x = Input(shape=(4,))
            y = Lambda(lambda t: t[:, :, None], output_shape=(4,))(x)
            """,
            line=3,
            message="returns rank 3 (batch, ?, ?)",
        ),
        # The output shape passed by position, to a `Lambda` imported under another name,
        # on an input of unknown rank: a reduction over every axis has rank 0 anyway.
        Invalid(
            """\
            import keras.backend as K
            from keras.layers import Lambda as L

            def energy(features):
                return L(lambda t: K.max(t), (1,))(features)
            """,
            line=5,
            message="returns rank 0 ()",
        ),
        # By position after a first argument holding a parameter default, an index and a
        # string with a bracket.
        Invalid(
            """\
            from keras import layers
            inp = layers.Input(shape=(3,))
            first = layers.Lambda(lambda t, k=0, pad="(": t[:, k], (1,), name="first")(inp)
            """,
            line=3,
        ),
        # A module-level alias of the class.
        Invalid(
            """\
            import keras
            from keras import ops
            Lam = keras.layers.Lambda  # a shorter name
            inp = keras.Input(shape=(4,))
            total = Lam(lambda t: ops.sum(t, axis=1), (1,))(inp)
            """,
            line=5,
            expected_fix="""\
            import keras
            from keras import ops
            Lam = keras.layers.Lambda  # a shorter name
            inp = keras.Input(shape=(4,))
            total = Lam(lambda t: ops.sum(t, axis=1, keepdims=True), (1,))(inp)
            """,
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._reported: Set[cst.Call] = set()
        self._calls: List[cst.Call] = []
        self._declares_output_shape = False

    def visit_Call(self, node: cst.Call) -> None:
        imports = self.context.semantics.imports
        # Rank inference costs a pass over the file: run it only when some `...Lambda(...)`
        # call declares an output shape (as a keyword or the second positional argument),
        # and only for calls that may apply a layer.
        if may_apply_layer(node, imports):
            self._calls.append(node)
        if not self._declares_output_shape and imports.is_keras(node.func, "layers.Lambda"):
            positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
            self._declares_output_shape = len(positional) >= 2 or any(
                arg.keyword is not None and arg.keyword.value == "output_shape" for arg in node.args
            )

    def leave_Module(self, original_node: cst.Module) -> None:
        if self._declares_output_shape:
            for call in self._calls:
                self._check_application(call)

    def _check_application(self, node: cst.Call) -> None:
        application = self.context.semantics.ranks.applied_lambda(node)
        # A layer applied twice is one layer: one finding, at its construction.
        if application is None or application.layer in self._reported:
            return
        result = application.result
        declared = self._declared(application)
        if result is None or result.rank is None or declared is None:
            return
        if result.rank == declared.rank:
            return
        self._reported.add(application.layer)
        self.report(
            application.layer,
            f"`Lambda` returns rank {result.rank} {_shape_text(result.rank)} but declares "
            f"`output_shape={self._shown(application)}`, i.e. {declared.shape}: Keras does "
            "not check this, so the next layers and any directly called loss see the wrong "
            "shape",
            help=self._help(result.rank, declared.rank),
            fix=self._fix(result, declared.rank),
        )

    # ---- what output_shape declares ----------------------------------------------------

    def _declared(self, application: LambdaApplication) -> Optional[_Declared]:
        ranks = self.context.semantics.ranks
        declared = _output_shape(application.layer)
        if declared is None:
            return None
        frame = application.layer_frame
        elements = ranks.literal_elements(declared, frame)
        if elements is not None:
            dims = ", ".join(["batch", *(self.context.code_for(e).strip() for e in elements)])
            return _Declared(len(elements) + 1, f"({dims})" if elements else "(batch,)")
        rank = self._callable_rank(declared, frame)
        return _Declared(rank, f"rank {rank}") if rank is not None else None

    def _callable_rank(self, function: cst.BaseExpression, frame: Frame) -> Optional[int]:
        """The length every tuple a shape function returns agrees on (the whole shape,
        batch axis included)."""
        ranks = self.context.semantics.ranks
        result = ranks.call_function(function, frame, [UNKNOWN], {})
        if result is None:
            return None
        lengths = {ranks.literal_length(r.expr, r.frame) for r in result.returns}
        return lengths.pop() if len(lengths) == 1 else None

    def _shown(self, application: LambdaApplication) -> str:
        declared: cst.BaseExpression = _output_shape(application.layer)  # type: ignore[assignment]
        code = " ".join(self.context.code_for(declared).split())
        return code if len(code) <= _MAX_SHOWN else code[: _MAX_SHOWN - 3] + "..."

    # ---- help and fix ------------------------------------------------------------------

    def _help(self, returned: int, declared: int) -> str:
        if returned > declared:
            return "make the function return the declared rank, or declare the shape it returns"
        return (
            "keep the axis: slice with `x[:, 0:1]` instead of `x[:, 0]`, pass "
            f"`keepdims=True` to the reduction, or wrap the result in {self._expand_dims_words()}"
        )

    def _expand_dims_words(self) -> str:
        expand, import_line = self._expand_dims()
        if import_line != _OPS_IMPORT:
            return f"`{expand}(..., -1)`"
        if self.context.semantics.imports.flavor is KerasFlavor.KERAS3:
            return "`keras.ops.expand_dims(..., -1)`"
        return "`keras.ops.expand_dims(..., -1)` (Keras 3; `K.expand_dims` in Keras 2)"

    def _fix(self, result: FunctionResult, declared: int) -> Optional[FixSpec]:
        # Only the simple case: one return, one axis missing.
        if result.rank is None or declared != result.rank + 1 or len(result.returns) != 1:
            return None
        returned = result.returns[0]
        return (
            self._keepdims_fix(returned)
            or self._slice_fix(returned)
            or self._expand_dims_fix(returned.expr)
        )

    def _keepdims_fix(self, returned: Thunk) -> Optional[FixSpec]:
        if not isinstance(returned.expr, cst.Call):
            return None
        reduction = self.context.semantics.ranks.reduction(returned.expr, returned.frame)
        if reduction is None or reduction.axes_removed != 1 or reduction.keepdims:
            return None
        keyword = reduction.keepdims_keyword
        if keyword is None:
            return None
        message = f"Keep the reduced axis with `{keyword}=True`"
        if reduction.keepdims_arg is not None:
            return FixSpec.unsafe(message, Replace(reduction.keepdims_arg.value, "True"))
        keep = cst.Arg(
            keyword=cst.Name(keyword),
            value=cst.Name("True"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        call = reduction.call
        return FixSpec.unsafe(message, Replace(call, call.with_changes(args=[*call.args, keep])))

    def _slice_fix(self, returned: Thunk) -> Optional[FixSpec]:
        if not isinstance(returned.expr, cst.Subscript):
            return None
        index = self.context.semantics.ranks.sole_integer_index(returned.expr, returned.frame)
        if index is None:
            return None
        element, value = index
        kept = f"{value}:{value + 1}" if value != -1 else "-1:"
        return FixSpec.unsafe(
            f"Slice with `{kept}` to keep the axis", Replace(element.slice, kept)
        )

    def _expand_dims_fix(self, expr: cst.BaseExpression) -> Optional[FixSpec]:
        expand, import_line = self._expand_dims()
        if import_line is not None and not self._name_is_free(expand.split(".")[0]):
            return None
        changes: List[FixChange] = [Replace(expr, f"{expand}({self.context.code_for(expr)}, -1)")]
        if import_line is not None:
            changes.append(InsertAtTop(import_line))
        return FixSpec.unsafe(f"Add the axis back with `{expand}(..., -1)`", *changes)

    def _expand_dims(self) -> Tuple[str, Optional[str]]:
        """How this file spells ``expand_dims`` for its Keras, and the import to add when
        it imports nothing that spells it."""
        imports = self.context.semantics.imports
        flavor = imports.flavor
        for candidates in _EXPAND_DIMS[flavor]:
            spellings = [s for s in map(imports.spelling_for, candidates) if s is not None]
            if spellings:
                return min(spellings, key=len), None
        package = self._keras_package()
        if flavor is KerasFlavor.KERAS2:
            return "K.expand_dims", f"from {package} import backend as K"
        if flavor is KerasFlavor.UNKNOWN and package.startswith("tensorflow"):
            # tf.keras of either Keras: TensorFlow is there, `keras.ops` may not be.
            return "tf.expand_dims", "import tensorflow as tf"
        return "ops.expand_dims", _OPS_IMPORT

    def _keras_package(self) -> str:
        """The package this file imports Keras from."""
        for package in ("tf_keras", "tensorflow.keras", "tensorflow.python.keras"):
            if re.search(rf"^\s*(from|import)\s+{re.escape(package)}\b", self.context.source, re.M):
                return package
        return "keras"

    def _name_is_free(self, name: str) -> bool:
        return re.search(rf"\b{re.escape(name)}\b", self.context.source) is None


def _output_shape(layer: cst.Call) -> Optional[cst.BaseExpression]:
    for arg in layer.args:
        if arg.keyword is not None and arg.keyword.value == "output_shape":
            return arg.value
    positional = [arg for arg in layer.args if arg.keyword is None]
    return positional[1].value if len(positional) > 1 else None


def _shape_text(rank: int) -> str:
    if rank == 0:
        return "()"
    return "(" + ", ".join(["batch"] + ["?"] * (rank - 1)) + (",)" if rank == 1 else ")")

