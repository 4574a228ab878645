import libcst as cst

from ..registry import GAP, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register


@register
class OptimizerLrArgument(Rule):
    """
    ## What it does
    Finds Keras optimizers constructed with the old `lr=` keyword instead of
    `learning_rate=`.

    ## Why is this bad?
    `lr` was renamed to `learning_rate` in Keras 2.3. tf-keras 2.11 and later log a
    warning and then ignore it: `SGD(lr=0.5)` trains at the default learning rate of
    0.01, so an experiment over learning rates silently runs one rate again and again.
    Keras 3 raises `ValueError` for it.

    ## Example
    ```python
    from tensorflow import keras
    optimizer = keras.optimizers.SGD(lr=0.5)
    ```

    ## Use instead
    ```python
    from tensorflow import keras
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    ```

    ## Fix safety
    Safe: renaming the keyword makes the optimizer use the rate the code already asks for,
    which is what every Keras since 2.3 means by it.

    ## Known limits
    Only optimizer classes that resolve to Keras (any import spelling, or a module-level
    alias of one) are checked; an optimizer built from a dictionary (`**kwargs`) or a
    class of another library named like a Keras optimizer is not reported.
    """

    code = "KC006"
    name = "optimizer-lr-argument"
    summary = "a Keras optimizer constructed with `lr=` (ignored by tf-keras 2.11+, an error in Keras 3)"
    # The optimizer resolves to ``keras.optimizers``, a name written in the call, an import
    # or an alias; ``lr=`` is a keyword argument, so it follows ``(`` or ``,``. (The second
    # pattern, starting with literal text, is found fast and spares most files the third.)
    trigger = Trigger(r"optimizers", rf"lr{GAP}*=(?!=)", rf"[(,]{GAP}*lr{GAP}*=(?!=)")

    VALID = [
        Valid("from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.5)\n"),
        Valid("import keras\nlr = 0.1\nopt = keras.optimizers.Adam(lr)\n"),
        Valid("from sklearn.linear_model import SGDClassifier\nclf = SGDClassifier(lr=0.1)\n"),
        Valid("def SGD(lr):\n    return lr\nopt = SGD(lr=0.5)\n"),
        # `lr` is a parameter of the caller's own function.
        Valid("import keras\ndef make(lr=0.1):\n    return keras.optimizers.SGD(learning_rate=lr)\n"),
    ]
    INVALID = [
        Invalid(
            "from tensorflow import keras\nopt = keras.optimizers.SGD(lr=0.5)\n",
            line=2,
            message="`SGD(lr=...)`",
            expected_fix="from tensorflow import keras\nopt = keras.optimizers.SGD(learning_rate=0.5)\n",
        ),
        Invalid(
            "from keras.optimizers import Adam\nmodel.compile(optimizer=Adam(lr=1e-3, decay=1e-6), loss='mse')\n",
            line=2,
            expected_fix=(
                "from keras.optimizers import Adam\n"
                "model.compile(optimizer=Adam(learning_rate=1e-3, decay=1e-6), loss='mse')\n"
            ),
        ),
        Invalid(
            "import tensorflow as tf\nopt = tf.keras.optimizers.legacy.RMSprop(lr = 0.01)\n",
            expected_fix="import tensorflow as tf\nopt = tf.keras.optimizers.legacy.RMSprop(learning_rate = 0.01)\n",
        ),
        # The class under an alias (the module is named only in the import), and the
        # keyword on a line of its own after a comment.
        Invalid(
            """\
            from tensorflow.keras.optimizers import Adam as A
            opt = A(  # the Keras 2.2 spelling
                lr=1e-3,
            )
            """,
            line=3,
            expected_fix="""\
            from tensorflow.keras.optimizers import Adam as A
            opt = A(  # the Keras 2.2 spelling
                learning_rate=1e-3,
            )
            """,
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        member = self.context.semantics.imports.keras_member(node.func)
        if member is None or not member.startswith("optimizers."):
            return
        optimizer = member.rsplit(".", 1)[-1]
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "lr":
                self.report(
                    arg,
                    f"`{optimizer}(lr=...)`: tf-keras 2.11+ ignores `lr` and trains at the "
                    "default learning rate, Keras 3 rejects it; pass `learning_rate=`",
                    help="rename the keyword to `learning_rate=`",
                    fix=FixSpec.safe(
                        "Rename `lr=` to `learning_rate=`",
                        Replace(arg.keyword, cst.Name("learning_rate")),
                    ),
                )
