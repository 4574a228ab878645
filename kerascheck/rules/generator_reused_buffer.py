from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

import libcst as cst

from ..semantics import walk
from ..registry import GAP, FixSpec, Invalid, Replace, Rule, Trigger, Valid, register
from ..semantics.arrays import ArrayFacts, ArrayRef
from ..semantics.imports import dotted_name

if TYPE_CHECKING:  # pragma: no cover
    from ..context import FileContext

_KERAS_DATASETS = ("utils.Sequence", "utils.PyDataset", "Sequence", "PyDataset")

# ---- Trigger ---------------------------------------------------------------------------
# A finding needs a call that ``ArrayFacts.allocation`` resolves, through the import table,
# to a numpy allocator. Its callee is spelled in one of these ways (the table resolves star
# imports to Keras only, and a deeper attribute such as ``np.random.zeros`` is not numpy's):
#   numpy.zeros(...)      after ``import numpy`` (or ``import numpy.x``)
#   np.zeros(...)         after ``import numpy as np``
#   xp.zeros(...)         after module-level aliases ``xp = np`` or ``xp = numpy`` (chains
#                         of them start with one of these)
#   zeros(...), z(...)    after ``from numpy import zeros [as z]``, ``import numpy.zeros as
#                         z``, or a module-level alias ``z = np.zeros`` (spelled as above)
# with whitespace, comments, line continuations and parentheses wherever the grammar allows
# them (``(np) . zeros``).

# Between the tokens of a dotted name, and around it.
_SPACE = rf"(?:{GAP}|[()])*"
_ALLOCATOR = r"(?:(?:zeros|empty|ones|full)(?:_like)?|ndarray)\b"
# Where a statement ends after a bare name: ``xp = np``, ``xp = (np)  # numpy``.
_STATEMENT_END = r"(?:[^\S\r\n]|[)\\])*(?:[#;\r\n]|\Z)"
# What follows an allocator's name where it is called (``(``, perhaps after closing
# parentheses, or on the next line inside brackets) or aliased (``as``, a statement end).
_CALLED_OR_ALIASED = r"(?:[^\S\r\n]|[)\\])*(?:[(#;\r\n]|as\b|\Z)"
_ATTRIBUTE_ALLOCATOR = rf"{_SPACE}\.{_SPACE}{_ALLOCATOR}{_CALLED_OR_ALIASED}"
# ``import numpy as ``, ``import os, numpy as ``, across line continuations.
_IMPORT_NUMPY_AS = rf"import\b(?:[^\r\n;#\\]|\\[\s\S])*?numpy{_SPACE}as\b{_SPACE}"
# The characters of an alias as an import writes it: anything up to what ends it there
# (not ``\w``, which would cut short an identifier with other characters).
_ALIAS_CHAR = r"[^\s,;#\\)]"
# Whether some callee resolves to a numpy allocator. Each branch looks through the whole
# text from its start, because the import table is flow-insensitive: an alias may be bound
# after its use. Greedy ``[\s\S]*`` followed by literal text backtracks fast.
_NUMPY_ALLOCATOR = (
    r"\A(?:"
    # numpy.zeros; from numpy import ... zeros; numpy as a bare value (``xp = numpy``,
    # and so also ``import numpy``, as a trigger cannot tell the two apart cheaply).
    rf"(?=[\s\S]*numpy(?<![\w.]numpy)(?:{_ATTRIBUTE_ALLOCATOR}"
    rf"|{_SPACE}import\b[\s\S]*?\b{_ALLOCATOR}|{_STATEMENT_END}))"
    # The first ``import numpy as np``: np.zeros (or anything ending in np, such as
    # jnp.zeros: looking for a name's start costs more than it saves), or ``xp = np``, or
    # another ``import numpy as`` under another name, which this pattern does not follow.
    rf"|(?=[\s\S]*?{_IMPORT_NUMPY_AS}({_ALIAS_CHAR}+))"
    rf"(?=[\s\S]*\1{_ATTRIBUTE_ALLOCATOR}"
    rf"|[\s\S]*={_SPACE}\1{_STATEMENT_END}"
    rf"|[\s\S]*{_IMPORT_NUMPY_AS}(?!\1(?!{_ALIAS_CHAR})){_ALIAS_CHAR})"
    r")"
)


@register
class GeneratorReusedBuffer(Rule):
    """
    ## What it does
    Finds data generators (and `__getitem__` of a Keras `Sequence`/`PyDataset`) that
    yield or return a numpy array allocated once and written in place for every batch,
    without copying it.

    ## Why is this bad?
    Every batch is then the same array object, and Keras holds batches before it trains
    on them. Keras 3 takes the first two batches of a generator ahead of time, so the
    first batch is never trained on and the second is trained twice; `fit_generator`
    queues batches; `tf.data.Dataset.from_generator` with prefetch does not copy the
    array; a `Sequence`/`PyDataset` with thread workers calls `__getitem__` for the next
    batches while an earlier one is still in use. Each time, a batch is overwritten by a
    later one: inputs no longer match their targets, and the network silently learns
    little or nothing. No error, no warning.

    ## Example
    ```python
    import numpy as np

    def batches(batch_size=64):
        x = np.zeros((batch_size, 2))
        while True:
            for i in range(batch_size):
                x[i] = np.random.randint(0, 100, size=2)
            yield x, x.mean(axis=1)
    ```

    ## Use instead
    ```python
    import numpy as np

    def batches(batch_size=64):
        while True:
            x = np.zeros((batch_size, 2))
            for i in range(batch_size):
                x[i] = np.random.randint(0, 100, size=2)
            yield x, x.mean(axis=1)
    ```
    or keep the buffer and yield a copy: `yield x.copy(), x.mean(axis=1)`.

    ## Fix safety
    Safe: the fix yields (or returns) `x.copy()` where `x` escaped, so every batch is
    its own array with the values it had when it was produced, which is what a correct
    generator gives. It costs one copy per batch.

    ## Known limits
    The buffer must be a local name of the generator, bound only to `np.zeros`/`empty`/
    `ones`/`full` (or their `_like` forms, or `np.ndarray(...)`) before the loop and never
    rebound inside it; for `__getitem__`, a `self.` attribute that only `__init__` binds,
    to such an array. Module-level buffers, `self.` buffers of generator methods, writes
    made by a helper that receives the buffer (`fill(x)`, `rng.shuffle(x)`), and escapes
    through a container built before the `yield` (`batch = (x, y); yield batch`),
    `dict(...)` or `reshape` are not seen. `x[i]` may be a view or a copy (an integer or
    an index array), so it is not reported. A generator consumed one batch at a time by a
    manual `train_on_batch` loop is harmless but still reported: copy, or add `# noqa: KC002`.
    """

    code = "KC002"
    name = "generator-reused-buffer"
    summary = (
        "a generator (or `keras.utils.Sequence`/`PyDataset` `__getitem__`) that yields or "
        "returns an array allocated once outside its loop and mutated in place inside it, "
        "without copying"
    )
    # Cheapest first. Every numpy allocator is reached through an import of ``numpy``.
    # Batches leave through a ``yield``, or the ``__getitem__`` of a class whose base names
    # ``Sequence``/``PyDataset`` (directly, by alias, or through a base class of this file).
    # The allocator's name is called or aliased (see ``_CALLED_OR_ALIASED``), and that
    # callee resolves to numpy (see ``_NUMPY_ALLOCATOR``).
    trigger = Trigger(
        r"numpy",
        r"yield|__getitem__",
        rf"\b{_ALLOCATOR}{_CALLED_OR_ALIASED}",
        _NUMPY_ALLOCATOR,
        r"yield|Sequence|PyDataset",
    )

    VALID = [
        # A fresh array for every batch (the seed's fixed generator).
        Valid(
            """\
            import numpy as np
            def gen(batch_size):
                while True:
                    x = np.zeros((batch_size, 2))
                    for i in range(batch_size):
                        x[i][0] = np.random.randint(0, 100)
                    yield [x], [x.sum(axis=1)]
            """
        ),
        # Copies escape, not the buffer.
        Valid(
            """\
            import numpy as np
            def gen(batch_size):
                x = np.zeros((batch_size, 2))
                y = np.empty(batch_size)
                while True:
                    x[:] = np.random.rand(batch_size, 2)
                    y[:] = x.sum(axis=1)
                    yield np.copy(x), y.copy()
            """
        ),
        # Results of arithmetic, np.array and tensors are new arrays.
        Valid(
            """\
            import numpy as np
            import tensorflow as tf
            def gen(n):
                x = np.zeros((n, 2))
                y = np.zeros(n)
                while True:
                    x += 1
                    y.fill(2)
                    yield x + np.random.rand(n, 2), np.array(y), tf.constant(x)
            """
        ),
        # The name is rebound to a fresh array inside the loop before the yield.
        Valid(
            """\
            import numpy as np
            def gen(n):
                x = np.zeros((n, 2))
                while True:
                    x = np.zeros((n, 2))
                    x[:, 0] = np.random.rand(n)
                    yield x
            """
        ),
        # A constant mask, never written inside the loop.
        Valid(
            """\
            import numpy as np
            def gen(data, n):
                mask = np.ones((n, 4))
                mask[:, 0] = 0
                for start in range(0, len(data), n):
                    yield data[start:start + n], mask
            """
        ),
        # Indexing with an index array copies (and `x[i]` cannot be told apart from it).
        Valid(
            """\
            import numpy as np
            def gen(n):
                x = np.empty((n, 2))
                while True:
                    idx = np.random.permutation(n)
                    x[idx] = np.random.rand(n, 2)
                    yield x[idx]
            """
        ),
        # A `zeros` that is not numpy's.
        Valid(
            """\
            from torch import zeros
            def gen(n):
                x = zeros((n, 2))
                while True:
                    x[0] = 1
                    yield x
            """
        ),
        # A literal index into a 1-D buffer gives a scalar, which shares nothing.
        Valid(
            """\
            import numpy as np
            def gen():
                counts = np.zeros(3)
                while True:
                    counts[0] += 1
                    yield counts[0]
            """
        ),
        # A Sequence that builds fresh arrays in __getitem__.
        Valid(
            """\
            import numpy as np
            from tensorflow import keras
            class Batches(keras.utils.Sequence):
                def __init__(self, x, y, batch_size):
                    self.x, self.y, self.batch_size = x, y, batch_size
                    self.scratch = np.zeros((batch_size, 8))
                def __len__(self):
                    return len(self.x) // self.batch_size
                def __getitem__(self, idx):
                    batch_x = np.zeros((self.batch_size, 8))
                    batch_x[:] = self.x[idx * self.batch_size:(idx + 1) * self.batch_size]
                    return batch_x, self.y[idx * self.batch_size:(idx + 1) * self.batch_size]
            """
        ),
        # __getitem__ of a class that is not a Keras dataset.
        Valid(
            """\
            import numpy as np
            class Table:
                def __init__(self):
                    self.row = np.zeros(8)
                def __getitem__(self, idx):
                    self.row[:] = idx
                    return self.row
            """
        ),
    ]
    INVALID = [
        # The seed: the preallocated input `x` yielded inside lists.
        Invalid(
            """\
            import numpy as np
            def train_iterator(batch_size=64):
                x = np.zeros((batch_size, 2))
                while True:
                    for i in range(batch_size):
                        x[i][0] = np.random.randint(0, 100)
                        x[i][1] = np.random.randint(0, 100)
                    x_mean = (x[::, 0] + x[::, 1]) / 2
                    x_mean_ex = np.expand_dims(x_mean, -1)
                    yield [x], [x_mean_ex]
            """,
            line=10,
            message="`x` is allocated once (line 3) and written in place (line 6)",
            expected_fix="""\
            import numpy as np
            def train_iterator(batch_size=64):
                x = np.zeros((batch_size, 2))
                while True:
                    for i in range(batch_size):
                        x[i][0] = np.random.randint(0, 100)
                        x[i][1] = np.random.randint(0, 100)
                    x_mean = (x[::, 0] + x[::, 1]) / 2
                    x_mean_ex = np.expand_dims(x_mean, -1)
                    yield [x.copy()], [x_mean_ex]
            """,
        ),
        # The seed's variant: `x_mean` preallocated too, filled with `x_mean[::] = ...`
        # and yielded through a view of it.
        Invalid(
            """\
            import numpy as np
            def train_iterator_1(batch_size=64):
                x = np.zeros((batch_size, 2))
                x_mean = np.zeros((batch_size,))
                while True:
                    for i in range(batch_size):
                        x[i][0] = np.random.randint(0, 100)
                        x[i][1] = np.random.randint(0, 100)
                    x_mean[::] = (x[::, 0] + x[::, 1]) / 2
                    x_mean_ex = np.expand_dims(x_mean, -1)
                    yield [x], [x_mean_ex]
            """,
            line=11,
            count=2,
            expected_fix="""\
            import numpy as np
            def train_iterator_1(batch_size=64):
                x = np.zeros((batch_size, 2))
                x_mean = np.zeros((batch_size,))
                while True:
                    for i in range(batch_size):
                        x[i][0] = np.random.randint(0, 100)
                        x[i][1] = np.random.randint(0, 100)
                    x_mean[::] = (x[::, 0] + x[::, 1]) / 2
                    x_mean_ex = np.expand_dims(x_mean, -1)
                    yield [x.copy()], [x_mean_ex.copy()]
            """,
        ),
        # Tutorial style: features and labels filled row by row.
        Invalid(
            """\
            import numpy as np
            def generator(features, labels, batch_size):
                batch_features = np.zeros((batch_size, 64, 64, 3))
                batch_labels = np.zeros((batch_size, 1))
                while True:
                    for i in range(batch_size):
                        index = np.random.choice(len(features), 1)
                        batch_features[i] = features[index]
                        batch_labels[i] = labels[index]
                    yield batch_features, batch_labels
            """,
            line=10,
            count=2,
            message="`batch_features` is allocated once (line 3) and written in place (line 8)",
            expected_fix="""\
            import numpy as np
            def generator(features, labels, batch_size):
                batch_features = np.zeros((batch_size, 64, 64, 3))
                batch_labels = np.zeros((batch_size, 1))
                while True:
                    for i in range(batch_size):
                        index = np.random.choice(len(features), 1)
                        batch_features[i] = features[index]
                        batch_labels[i] = labels[index]
                    yield batch_features.copy(), batch_labels.copy()
            """,
        ),
        # np.copyto, into a dict of inputs.
        Invalid(
            """\
            import numpy
            def gen(source, n):
                buf = numpy.empty((n, 16), dtype="float32")
                for start in range(0, len(source), n):
                    numpy.copyto(buf, source[start:start + n])
                    yield {"features": buf}, source[start:start + n, 0]
            """,
            line=6,
            message="written in place (line 5)",
            expected_fix="""\
            import numpy
            def gen(source, n):
                buf = numpy.empty((n, 16), dtype="float32")
                for start in range(0, len(source), n):
                    numpy.copyto(buf, source[start:start + n])
                    yield {"features": buf.copy()}, source[start:start + n, 0]
            """,
        ),
        # out= of a numpy function.
        Invalid(
            """\
            from numpy import empty_like, multiply
            def scaled(batches, factor):
                out = empty_like(batches[0])
                for batch in batches:
                    multiply(batch, factor, out=out)
                    yield out
            """,
            line=6,
            expected_fix="""\
            from numpy import empty_like, multiply
            def scaled(batches, factor):
                out = empty_like(batches[0])
                for batch in batches:
                    multiply(batch, factor, out=out)
                    yield out.copy()
            """,
        ),
        # Augmented assignment and in-place methods.
        Invalid(
            """\
            import numpy as np
            def noisy(n):
                x = np.ones((n, 3))
                while True:
                    x *= np.random.rand(n, 3)
                    yield x, np.ones(n)
            """,
            line=6,
            message="(line 5)",
            expected_fix="""\
            import numpy as np
            def noisy(n):
                x = np.ones((n, 3))
                while True:
                    x *= np.random.rand(n, 3)
                    yield x.copy(), np.ones(n)
            """,
        ),
        Invalid(
            """\
            import numpy as np
            def shuffled(data):
                order = np.full(len(data), 0)
                order[:] = np.arange(len(data))
                while True:
                    np.random.shuffle(order)
                    yield order
            """,
            line=7,
            message="(line 6)",
        ),
        # A view escapes: a basic slice, a literal index of a 2-D buffer.
        Invalid(
            """\
            import numpy as np
            def windows(stream, n):
                x = np.empty((256, 8))
                y = np.empty((256, 2))
                while True:
                    x.fill(0)
                    y[:] = stream.read(x)
                    yield x[:n], y[0]
            """,
            line=8,
            count=2,
            expected_fix="""\
            import numpy as np
            def windows(stream, n):
                x = np.empty((256, 8))
                y = np.empty((256, 2))
                while True:
                    x.fill(0)
                    y[:] = stream.read(x)
                    yield x[:n].copy(), y[0].copy()
            """,
        ),
        # A Sequence whose __getitem__ fills and returns buffers allocated in __init__.
        Invalid(
            """\
            import numpy as np
            from tensorflow.keras.utils import Sequence
            class Batches(Sequence):
                def __init__(self, x, y, batch_size):
                    self.x, self.y, self.batch_size = x, y, batch_size
                    self.batch_x = np.zeros((batch_size, 8))
                    self.batch_y = np.zeros((batch_size,))
                def __len__(self):
                    return len(self.x) // self.batch_size
                def __getitem__(self, idx):
                    for i in range(self.batch_size):
                        self.batch_x[i] = self.x[idx * self.batch_size + i]
                        self.batch_y[i] = self.y[idx * self.batch_size + i]
                    return self.batch_x, self.batch_y
            """,
            line=14,
            count=2,
            message=(
                "`self.batch_x` is allocated once in `__init__` (line 6) and written in place "
                "in `__getitem__` (line 12)"
            ),
            expected_fix="""\
            import numpy as np
            from tensorflow.keras.utils import Sequence
            class Batches(Sequence):
                def __init__(self, x, y, batch_size):
                    self.x, self.y, self.batch_size = x, y, batch_size
                    self.batch_x = np.zeros((batch_size, 8))
                    self.batch_y = np.zeros((batch_size,))
                def __len__(self):
                    return len(self.x) // self.batch_size
                def __getitem__(self, idx):
                    for i in range(self.batch_size):
                        self.batch_x[i] = self.x[idx * self.batch_size + i]
                        self.batch_y[i] = self.y[idx * self.batch_size + i]
                    return self.batch_x.copy(), self.batch_y.copy()
            """,
        ),
        # A Keras 3 PyDataset writing through a local alias of its buffer.
        Invalid(
            """\
            import keras
            import numpy as np
            class Frames(keras.utils.PyDataset):
                def __init__(self, video, **kwargs):
                    super().__init__(**kwargs)
                    self.video = video
                    self.frames = np.empty((16, 64, 64))
                def __len__(self):
                    return len(self.video) // 16
                def __getitem__(self, index):
                    frames = self.frames
                    frames[:] = self.video[index * 16:(index + 1) * 16]
                    return frames, frames[:, 0, 0]
            """,
            line=13,
            message="`PyDataset`",
            expected_fix="""\
            import keras
            import numpy as np
            class Frames(keras.utils.PyDataset):
                def __init__(self, video, **kwargs):
                    super().__init__(**kwargs)
                    self.video = video
                    self.frames = np.empty((16, 64, 64))
                def __len__(self):
                    return len(self.video) // 16
                def __getitem__(self, index):
                    frames = self.frames
                    frames[:] = self.video[index * 16:(index + 1) * 16]
                    return frames.copy(), frames[:, 0, 0].copy()
            """,
        ),
        # Edges of the trigger. The allocator named only where it is imported under an
        # alias (never followed by `(`).
        Invalid(
            """\
            from numpy import zeros as blank

            def batches(source, n):
                x = blank((n, 4))
                for start in range(0, len(source), n):
                    x[:] = source[start:start + n]
                    yield x
            """,
            line=7,
            message="`x` is allocated once (line 4)",
        ),
        # A module-level alias of numpy's alias, bound after its use; the call spread over
        # lines with a comment (the text never says `np.empty`).
        Invalid(
            """\
            import numpy as np

            def frames(video, n):
                x = (xp  # numpy, or cupy on a GPU
                     .empty((n, 64)))
                while True:
                    x[:] = video.read(n)
                    yield x

            xp = np
            """,
            line=8,
        ),
        # numpy imported a second time under another name, which allocates; the dataset
        # class imported under an alias.
        Invalid(
            """\
            import numpy as np
            from keras.utils import PyDataset as Dataset

            class Windows(Dataset):
                def __init__(self, series, **kwargs):
                    import numpy as array_lib
                    super().__init__(**kwargs)
                    self.series = series
                    self.window = array_lib.full((32, 8), np.nan)
                def __len__(self):
                    return len(self.series) // 32
                def __getitem__(self, index):
                    self.window[:] = self.series[index * 32:(index + 1) * 32]
                    return self.window
            """,
            line=14,
            message="`PyDataset`",
        ),
    ]

    def __init__(self, context: "FileContext") -> None:
        super().__init__(context)
        self._bodies: Dict[cst.FunctionDef, _FunctionBody] = {}
        # Classes of this file that are Keras datasets, and which one (for subclasses).
        self._dataset_classes: Dict[str, str] = {}
        # Functions around the node being visited, and those that contain a ``yield``:
        # only generators are analysed (a pass over each function body is not free).
        self._functions: List[cst.FunctionDef] = []
        self._generators: Set[cst.FunctionDef] = set()

    # ---- generators ----------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._functions:
            self._generators.add(self._functions[-1])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()
        if original_node in self._generators:
            self._check_generator(original_node)

    def _check_generator(self, node: cst.FunctionDef) -> None:
        body = self._body(node)
        if not body.yields:
            return
        arrays = self.context.semantics.arrays
        buffers = {
            name: buffer
            for name, buffer in _buffers(body.bindings, arrays).items()
            if "." not in name
        }
        if not buffers:
            return
        known = _with_views(body, buffers, arrays)
        for event in body.yields:
            value = event.node.value  # type: ignore[attr-defined]
            if isinstance(value, cst.BaseExpression):  # not ``yield`` alone or ``yield from``
                self._check_yield(event, value, body, buffers, known)

    def _check_yield(
        self,
        event: _Event,
        value: cst.BaseExpression,
        body: _FunctionBody,
        buffers: Mapping[str, _Buffer],
        known: Mapping[str, ArrayRef],
    ) -> None:
        arrays = self.context.semantics.arrays
        for root, escapes in _escapes_by_root(value, known, arrays).items():
            write = _write_in_shared_loop(root, event, body, known, arrays)
            if write is None:
                continue
            allocated_at = self.context.line_of(buffers[root].allocated_at)
            message = (
                f"`{root}` is allocated once (line {allocated_at}) and written in place "
                f"(line {self.context.line_of(write.node)}) but yielded without a "
                f"copy{self._through(root, escapes)}: every batch is this one array, and Keras "
                "holds batches before training on them, so a batch is overwritten by the next"
            )
            self._report_escape(event.node, root, escapes, message, "yield", "inside the loop")

    # ---- Keras Sequence / PyDataset ------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        base_class = self._keras_dataset_base(node)
        if base_class is None:
            return
        self._dataset_classes[node.name.value] = base_class
        methods = {
            statement.name.value: statement
            for statement in node.body.body
            if isinstance(statement, cst.FunctionDef)
        }
        getitem = methods.get("__getitem__")
        self_name = _self_name(getitem) if getitem is not None else None
        if getitem is None or self_name is None:
            return
        buffers = {
            f"{self_name}.{attr}": buffer
            for attr, buffer in self._init_only_arrays(methods.values()).items()
        }
        body = self._body(getitem)
        known = _with_views(body, buffers, self.context.semantics.arrays)
        for event in body.returns:
            value = event.node.value  # type: ignore[attr-defined]
            if value is not None:
                self._check_return(event, value, body, buffers, known, base_class)

    def _check_return(
        self,
        event: _Event,
        value: cst.BaseExpression,
        body: _FunctionBody,
        buffers: Mapping[str, _Buffer],
        known: Mapping[str, ArrayRef],
        base_class: str,
    ) -> None:
        arrays = self.context.semantics.arrays
        for root, escapes in _escapes_by_root(value, known, arrays).items():
            # Every call of ``__getitem__`` is one turn of the loop: a write anywhere in it.
            write = next(
                (w for w in body.writes if _resolves_to(w.target, root, known, arrays)), None
            )
            if write is None:
                continue
            message = (
                f"`{root}` is allocated once in `__init__` (line "
                f"{self.context.line_of(buffers[root].allocated_at)}) and written in place in "
                f"`__getitem__` (line {self.context.line_of(write.node)}) but returned without "
                f"a copy{self._through(root, escapes)}: when this `{base_class}` runs with "
                "thread workers, Keras fetches the next batches while it still holds this one, "
                "so batches are overwritten and (x, y) pairs torn apart"
            )
            self._report_escape(
                event.node, root, escapes, message, "return", "inside `__getitem__`"
            )

    def _keras_dataset_base(self, node: cst.ClassDef) -> Optional[str]:
        """``Sequence`` or ``PyDataset`` when the class derives from one (directly or
        through a class of this file that does), else None."""
        imports = self.context.semantics.imports
        for base in node.bases:
            if base.keyword is not None:
                continue  # ``metaclass=...``
            member = imports.keras_member(base.value)
            if member is not None and imports.is_keras(base.value, *_KERAS_DATASETS):
                return member.rsplit(".", 1)[-1]
            if isinstance(base.value, cst.Name) and base.value.value in self._dataset_classes:
                return self._dataset_classes[base.value.value]
        return None

    def _init_only_arrays(self, methods: Iterable[cst.FunctionDef]) -> Dict[str, _Buffer]:
        """The ``self.`` attributes (by attribute name) that only ``__init__`` binds, and
        only to new arrays."""
        bindings_of: Dict[str, List[_Binding]] = defaultdict(list)
        bound_elsewhere = set()
        for method in methods:
            self_name = _self_name(method)
            if self_name is None:
                continue
            for key, bindings in self._body(method).bindings.items():
                owner, _, attr = key.partition(".")
                if owner != self_name or not attr or "." in attr:
                    continue
                bindings_of[attr].extend(bindings)
                if method.name.value != "__init__":
                    bound_elsewhere.add(attr)
        buffers = _buffers(bindings_of, self.context.semantics.arrays)
        return {attr: buffer for attr, buffer in buffers.items() if attr not in bound_elsewhere}

    # ---- shared --------------------------------------------------------------------

    def _body(self, function: cst.FunctionDef) -> "_FunctionBody":
        if function not in self._bodies:
            self._bodies[function] = _FunctionBody.of(function, self.context.semantics.arrays)
        return self._bodies[function]

    def _through(self, root: str, escapes: List[cst.BaseExpression]) -> str:
        """`` (as `x_ex`, which shares its memory)`` when the buffer escapes under another
        spelling than its own name."""
        other = next((e for e in escapes if self.context.code_for(e) != root), None)
        return (
            ""
            if other is None
            else f" (as `{self.context.code_for(other)}`, which shares its memory)"
        )

    def _report_escape(
        self,
        at: cst.CSTNode,
        root: str,
        escapes: List[cst.BaseExpression],
        message: str,
        verb: str,
        where_to_allocate: str,
    ) -> None:
        copies = [_copy_of(escape) for escape in escapes]
        shown = self.context.code_for(copies[0])
        self.report(
            at,
            message,
            help=f"allocate the array {where_to_allocate}, or {verb} `{shown}`",
            fix=FixSpec.safe(
                f"{verb.capitalize()} a copy of `{root}`",
                *(Replace(e, c) for e, c in zip(escapes, copies)),
            ),
        )


# --------------------------------------------------------------------------------------
# One pass over a function's own code


@dataclass(frozen=True)
class _Event:
    """Something that happens in a function, with the loops around it (outermost first)
    and its place in the function's text order."""

    node: cst.CSTNode
    loops: Tuple[cst.CSTNode, ...]
    order: int


@dataclass(frozen=True)
class _Binding(_Event):
    # The value bound by a plain assignment (``x = value``), None for any other binding
    # (a parameter, a loop target, ``with ... as x``, ``global x``, ...).
    value: Optional[cst.BaseExpression]


@dataclass(frozen=True)
class _Write(_Event):
    target: cst.BaseExpression  # the array written into, as the code names it


class _FunctionBody(cst.CSTVisitor):
    """What a function's own code (nested functions and classes excluded) binds, writes in
    place, yields and returns; names are keyed by their dotted spelling (``x``, ``self.x``)."""

    def __init__(self, arrays: ArrayFacts) -> None:
        self.arrays = arrays
        self.bindings: Dict[str, List[_Binding]] = defaultdict(list)
        self.writes: List[_Write] = []
        self.yields: List[_Event] = []
        self.returns: List[_Event] = []
        self.loop_starts: Dict[cst.CSTNode, int] = {}
        self._loops: List[cst.CSTNode] = []
        self._order = 0

    @classmethod
    def of(cls, function: cst.FunctionDef, arrays: ArrayFacts) -> "_FunctionBody":
        body = cls(arrays)
        params = function.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            body._bind(param.name, None, param)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                body._bind(star.name, None, star)
        walk.visit(function.body, body)
        return body

    # ---- scopes: nested code is someone else's --------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._bind(node.name, None, node)
        # ``nonlocal x`` in a nested function may rebind our ``x``.
        for declared in _nonlocal_names(node):
            self._bind(declared, None, node)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._bind(node.name, None, node)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    # ---- loops ---------------------------------------------------------------------

    def visit_For(self, node: cst.For) -> None:
        self._enter_loop(node)
        self._bind(node.target, None, node)

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop()

    def visit_While(self, node: cst.While) -> None:
        self._enter_loop(node)

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop()

    def _enter_loop(self, node: cst.CSTNode) -> None:
        self.loop_starts[node] = self._next()
        self._loops.append(node)

    # ---- bindings ------------------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value, node)
        self._record_writes(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value, node)
            self._record_writes(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record_writes(node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value, node)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, None, node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name, None, node)

    def visit_Del(self, node: cst.Del) -> None:
        self._bind(node.target, None, node)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self._bind(item.name, None, node)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self._bind(item.name, None, node)

    # ---- writes and exits ----------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        self._record_writes(node)

    def visit_Yield(self, node: cst.Yield) -> None:
        self.yields.append(_Event(node, tuple(self._loops), self._next()))

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(_Event(node, tuple(self._loops), self._next()))

    # ---- helpers -------------------------------------------------------------------

    def _next(self) -> int:
        self._order += 1
        return self._order

    def _bind(
        self, target: cst.BaseExpression, value: Optional[cst.BaseExpression], node: cst.CSTNode
    ) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            values = _parallel_values(target, value)
            for element, element_value in zip(target.elements, values):
                self._bind(element.value, element_value, node)
            return
        if isinstance(target, cst.StarredElement):
            self._bind(target.value, None, node)
            return
        key = dotted_name(target)
        if key is not None:
            self.bindings[key].append(_Binding(node, tuple(self._loops), self._next(), value))

    def _record_writes(self, node: cst.CSTNode) -> None:
        for target in self.arrays.written_arrays(node):
            self.writes.append(_Write(node, tuple(self._loops), self._next(), target))


# --------------------------------------------------------------------------------------
# The analysis


@dataclass(frozen=True)
class _Buffer:
    allocated_at: cst.CSTNode  # the (first) allocating assignment
    ndim: Optional[int]


def _buffers(bindings_of: Mapping[str, List[_Binding]], arrays: ArrayFacts) -> Dict[str, _Buffer]:
    """The names every binding of which (and there is one) is a new numpy array."""
    buffers = {}
    for key, bindings in bindings_of.items():
        allocations = [
            arrays.allocation(b.value) if b.value is not None else None for b in bindings
        ]
        if allocations and all(allocations):
            ndims = {a.ndim for a in allocations if a is not None}
            buffers[key] = _Buffer(bindings[0].node, ndims.pop() if len(ndims) == 1 else None)
    return buffers


def _with_views(
    body: _FunctionBody, buffers: Mapping[str, _Buffer], arrays: ArrayFacts
) -> Dict[str, ArrayRef]:
    """``buffers`` plus the local names that only ever hold one of them or a view of it
    (``x_ex = np.expand_dims(x, -1)``, ``frames = self.frames``)."""
    known = {key: ArrayRef(key, buffer.ndim) for key, buffer in buffers.items()}
    grew = True
    while grew:
        grew = False
        for key, bindings in body.bindings.items():
            if key in known or any(b.value is None for b in bindings):
                continue
            refs = [arrays.view_root(b.value, known) for b in bindings]  # type: ignore[arg-type]
            roots = {ref.root for ref in refs if ref is not None}
            if None in refs or len(roots) != 1:
                continue
            ndims = {ref.ndim for ref in refs if ref is not None}
            known[key] = ArrayRef(roots.pop(), ndims.pop() if len(ndims) == 1 else None)
            grew = True
    return known


def _escapes_by_root(
    value: cst.BaseExpression, known: Mapping[str, ArrayRef], arrays: ArrayFacts
) -> Dict[str, List[cst.BaseExpression]]:
    """The sub-expressions of a yielded/returned value that hand out a buffer's memory,
    grouped by buffer (in the order they appear)."""
    grouped: Dict[str, List[cst.BaseExpression]] = {}
    for escape, ref in _escapes(value, known, arrays):
        grouped.setdefault(ref.root, []).append(escape)
    return grouped


def _escapes(
    value: cst.BaseExpression, known: Mapping[str, ArrayRef], arrays: ArrayFacts
) -> Iterator[Tuple[cst.BaseExpression, ArrayRef]]:
    ref = arrays.view_root(value, known)
    if ref is not None:
        yield value, ref
    elif isinstance(value, (cst.Tuple, cst.List)):
        for element in value.elements:
            if isinstance(element, cst.Element):
                yield from _escapes(element.value, known, arrays)
    elif isinstance(value, cst.Dict):
        for item in value.elements:
            if isinstance(item, cst.DictElement):
                yield from _escapes(item.value, known, arrays)


def _write_in_shared_loop(
    root: str,
    escape: _Event,
    body: _FunctionBody,
    known: Mapping[str, ArrayRef],
    arrays: ArrayFacts,
) -> Optional[_Write]:
    """The first write into ``root`` inside a loop around ``escape`` that ``root`` was
    allocated before and is never rebound in; None if there is none."""
    bindings = body.bindings[root]
    for loop in reversed(escape.loops):
        if any(loop in b.loops for b in bindings):
            continue  # rebound inside the loop: possibly a fresh array every iteration
        if min(b.order for b in bindings) > body.loop_starts[loop]:
            continue
        for write in body.writes:
            if loop in write.loops and _resolves_to(write.target, root, known, arrays):
                return write
    return None


def _resolves_to(
    target: cst.BaseExpression, root: str, known: Mapping[str, ArrayRef], arrays: ArrayFacts
) -> bool:
    ref = arrays.view_root(target, known)
    return ref is not None and ref.root == root


def _copy_of(expr: cst.BaseExpression) -> cst.Call:
    # Positions exclude an expression's own parentheses, so the replacement must too:
    # ``(x)`` becomes ``(x.copy())``.
    bare = expr.with_changes(lpar=[], rpar=[])
    return cst.Call(func=cst.Attribute(value=bare, attr=cst.Name("copy")))


def _parallel_values(
    target: cst.BaseExpression, value: Optional[cst.BaseExpression]
) -> List[Optional[cst.BaseExpression]]:
    """The value of each element of ``a, b = value`` when ``value`` is a literal tuple or
    list of the same length, else None for each."""
    elements = target.elements  # type: ignore[attr-defined]
    if (
        isinstance(value, (cst.Tuple, cst.List))
        and len(value.elements) == len(elements)
        and not any(isinstance(e, cst.StarredElement) for e in (*elements, *value.elements))
    ):
        return [element.value for element in value.elements]
    return [None] * len(elements)


def _self_name(method: cst.FunctionDef) -> Optional[str]:
    """The name of a method's first parameter (``self``), None for static methods."""
    if any(
        isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
        for d in method.decorators
    ):
        return None
    params = [*method.params.posonly_params, *method.params.params]
    return params[0].name.value if params else None


def _nonlocal_names(function: cst.FunctionDef) -> List[cst.Name]:
    collector = _NonlocalNames()
    walk.visit(function, collector)
    return collector.names


class _NonlocalNames(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: List[cst.Name] = []

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.names.extend(item.name for item in node.names)
