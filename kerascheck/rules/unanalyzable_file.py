from ..diagnostics import UNANALYZABLE_CODE, UNANALYZABLE_NAME, Severity
from ..registry import Invalid, Rule, Trigger, Valid, register


@register
class UnanalyzableFile(Rule):
    """
    ## What it does
    Reports a file that kerascheck could not read, decode or parse: a syntax error, an
    undecodable byte or a wrong coding cookie, binary content, a file too large or nested
    too deeply, a malformed notebook, or a path that is not a regular file. The message
    says what went wrong and where.

    ## Why is this bad?
    kerascheck checks nothing in such a file, so a pitfall there would go unreported.
    The finding makes that visible instead of silently skipping the file, and the rest of
    the run goes on.

    ## Example
    ```python
    import keras
    model = keras.Sequential([)
    ```

    ## Use instead
    ```python
    import keras
    model = keras.Sequential([])
    ```

    ## Fix safety
    There is no automatic fix: the file has to be repaired by hand (or excluded with
    `extend-exclude` when it is not meant to be Python, such as a template).

    ## Known limits
    A file is parsed only when the text of some selected rule's trigger occurs in it (a
    file without `fit`, `Lambda`, `stateful`, a generator, ... cannot hold any finding), so
    a syntax error is reported only in such files; with `--select KC900` alone, in every
    file that mentions Keras. Files that cannot be read or decoded are always reported.
    """

    code = UNANALYZABLE_CODE
    name = UNANALYZABLE_NAME
    summary = "a file that could not be read, decoded or parsed"
    severity = Severity.ERROR
    # Used only when KC900 is the sole selected rule: then files that mention Keras are
    # parsed to look for errors (otherwise the analysis rules' triggers decide).
    trigger = Trigger(r"eras")

    VALID = [
        Valid("import keras\nmodel = keras.Sequential([])\n"),
        Valid("print('a file without the trigger word'\n"),
    ]
    INVALID = [
        Invalid(
            "import keras\nmodel = keras.Sequential([)\n",
            line=2,
            message="syntax error, file not analyzed: closing parenthesis ')' does not match",
        ),
        Invalid("from tensorflow import keras\ndef f(:\n    pass\n", line=2),
    ]
