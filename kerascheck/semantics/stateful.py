"""Stateful recurrent models, what resets their states, and what ``fit`` trains on.

Facts for the stateful rules (KC004, KC005), each computed on demand:

- which layer constructor calls build a stateful recurrent layer: a literal
  ``stateful=True`` on ``LSTM``/``GRU``/``SimpleRNN``/``RNN``/``ConvLSTM*D``/``CuDNN*``
  or a ``Bidirectional`` around one, also through a local alias of the class
  (``rnn = functools.partial(tf.keras.layers.GRU, ...)``); and so which models are;
- which ``reset_states()``/``reset_state()`` calls reset a model's states. A metric's
  reset does not; a reset on something the analysis cannot classify does, so that the
  rules stay silent when they cannot tell;
- which ``callbacks=`` of a training call reset the states;
- what a ``fit`` call trains on: arrays, a ``tf.data`` pipeline with or without
  ``.shuffle()``, or a generator / ``Sequence``.

Names are looked up flow-sensitively (:class:`NameFlow`): the values a name may hold where
it is read, not every value it ever held.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import (
    TYPE_CHECKING,
    Dict,
    FrozenSet,
    Iterator,
    List,
    Optional,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
)

import libcst as cst

from ..catalog import GAP
from . import walk
from .imports import ImportTable

if TYPE_CHECKING:  # pragma: no cover
    from . import Semantics
    from .models import ModelValue

# ---- for triggers: the text a stateful layer needs -----------------------------------------
# A model is stateful only through a recurrent layer class (``LSTM``, ``GRU``,
# ``SimpleRNN``, ``RNN``, ``ConvLSTM*D``, ``CuDNN*``: every name holds one of the three
# below) constructed, or preset with ``functools.partial``, with the keyword argument
# ``stateful=`` (not ``self.stateful = ...``) whose value is literally true
# (``StatefulFacts.is_stateful_layer``): ``True``, or an int or float literal equal to it,
# written there or assigned (``=``, ``:=``) to the name written there.
STATEFUL_KEYWORD = rf"stateful(?<![\w.]stateful){GAP}*=(?!=)"
RECURRENT_LAYER = r"LSTM|GRU|RNN"
# A float equal to 1.0 is within 2**-53 of 1: its first significant digit is 1, or its
# first sixteen are 9s (the point may sit among them when an exponent follows).
_NINES = r"9(?:[_.]?9){15}"
LITERALLY_TRUE = (
    rf"=(?:{GAP}|\()*(?:True\b|(?:0[xXoObB][0_]*)?1(?![\w.])"  # ``True``, ``1``, ``0x1``
    rf"|[0_]*\.[0_]*(?:1|{_NINES})|[0_]*(?:1|{_NINES})[\d_.]*[.eE])"  # ``1.0``, ``.1e1``
)

RECURRENT_LAYERS = frozenset(
    {
        "LSTM",
        "GRU",
        "SimpleRNN",
        "RNN",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "CuDNNLSTM",
        "CuDNNGRU",
    }
)
RESET_METHODS = frozenset({"reset_states", "reset_state"})
# Callback hooks that run between epochs or between ``fit`` calls (or more often): a
# reset in any of them keeps one epoch's states out of the next.
RESETTING_HOOKS = frozenset(
    {
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_batch_begin",
        "on_batch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
    }
)
# Where the arguments sit when passed by position.
_POSITIONS = {
    "fit": {"x": 0, "epochs": 3, "callbacks": 5, "shuffle": 8, "initial_epoch": 11},
    "fit_generator": {"epochs": 2, "callbacks": 4, "initial_epoch": 11},
    "train_on_batch": {},
}
TRAINING_METHODS = frozenset(_POSITIONS)

# ``tf.data.Dataset`` methods that return a dataset; the first group exists on no array
# type, so it marks an expression of unknown origin as a dataset.
_DATASET_ONLY_METHODS = frozenset(
    {
        "batch",
        "padded_batch",
        "ragged_batch",
        "rebatch",
        "unbatch",
        "prefetch",
        "shuffle",
        "interleave",
        "flat_map",
        "with_options",
        "bucket_by_sequence_length",
    }
)
_DATASET_METHODS = _DATASET_ONLY_METHODS | frozenset(
    {"map", "filter", "cache", "repeat", "take", "skip", "shard", "apply", "window"}
)
# Keras dataset factories and whether they shuffle by default.
_DATASET_FACTORIES = {
    "timeseries_dataset_from_array": False,
    "image_dataset_from_directory": True,
    "text_dataset_from_directory": True,
    "audio_dataset_from_directory": True,
}
# Methods of Keras preprocessing generators that return a ``Sequence``.
_SEQUENCE_FACTORY_METHODS = frozenset({"flow", "flow_from_directory", "flow_from_dataframe"})
_ITERATION_WRAPPERS = frozenset({"enumerate", "reversed", "list", "tuple", "sorted", "iter"})
_MAX_DEPTH = 8  # bound on following names through names (cycles, long alias chains)

_N = TypeVar("_N", bound=cst.CSTNode)


class TrainingInput(str, enum.Enum):
    """What a ``fit`` call trains on. Unknown inputs count as arrays."""

    ARRAYS = "arrays"
    DATASET = "dataset"
    SHUFFLED_DATASET = "shuffled dataset"
    GENERATOR = "generator"

    def __str__(self) -> str:
        return self.value


_DATASETS = frozenset({TrainingInput.DATASET, TrainingInput.SHUFFLED_DATASET})


# --------------------------------------------------------------------------------------
# Flow-sensitive name lookup


@dataclass(frozen=True)
class Reaching:
    """The values a name may hold where it is read: assigned expressions, or the
    ``FunctionDef``/``ClassDef`` a ``def``/``class`` statement bound. ``complete`` is
    False when some binding's value cannot be known (a parameter, a loop target, an
    import, ``+=``) or the name may be unbound."""

    values: Tuple[cst.CSTNode, ...]
    complete: bool

    @property
    def known(self) -> bool:
        return self.complete and bool(self.values)


@dataclass
class _Found:
    name: str
    values: List[cst.CSTNode] = field(default_factory=list)
    complete: bool = True

    def add(self, value: Optional[cst.CSTNode]) -> None:
        if value is None:
            self.complete = False
        else:
            self.values.append(value)


def binds(target: cst.BaseExpression, name: str) -> bool:
    """Whether assigning to ``target`` (a name, or a tuple/list of them) binds ``name``."""
    if isinstance(target, cst.Name):
        return target.value == name
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(binds(element.value, name) for element in target.elements)
    if isinstance(target, cst.StarredElement):
        return binds(target.value, name)
    return False


_Binding = Tuple[bool, Optional[cst.CSTNode]]
_UNBOUND: _Binding = (False, None)


def _binding(node: cst.CSTNode, name: str) -> _Binding:
    """Whether the small statement or ``def``/``class`` ``node`` binds ``name``, and to
    what (None when the value cannot be known)."""
    if isinstance(node, cst.Assign):
        for target in node.targets:
            if isinstance(target.target, cst.Name) and target.target.value == name:
                return True, node.value
            if binds(target.target, name):
                return True, None
    elif isinstance(node, cst.AnnAssign):
        if isinstance(node.target, cst.Name) and node.target.value == name and node.value:
            return True, node.value
    elif isinstance(node, cst.AugAssign):
        if binds(node.target, name):
            return True, None
    elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        if node.name.value == name:
            return True, node
    elif isinstance(node, (cst.Import, cst.ImportFrom)):
        if not isinstance(node.names, cst.ImportStar) and any(
            _import_binds(alias, name) for alias in node.names
        ):
            return True, None
    elif isinstance(node, cst.Del):
        if binds(node.target, name):
            return True, None
    elif isinstance(node, (cst.Global, cst.Nonlocal)):
        if any(item.name.value == name for item in node.names):
            return True, None
    return _UNBOUND


def _import_binds(alias: cst.ImportAlias, name: str) -> bool:
    if alias.asname is not None:
        return binds(alias.asname.name, name)  # type: ignore[arg-type]
    node: cst.BaseExpression = alias.name
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name) and node.value == name


class _BindingFinder(cst.CSTVisitor):
    """Every binding of one name inside a statement, in no particular order; nested
    scopes are not entered (but their own names are bindings)."""

    def __init__(self, found: _Found) -> None:
        self.found = found

    def _check(self, node: cst.CSTNode) -> None:
        bound, value = _binding(node, self.found.name)
        if bound:
            self.found.add(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._check(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check(node)

    def visit_Import(self, node: cst.Import) -> None:
        self._check(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._check(node)

    def visit_Del(self, node: cst.Del) -> None:
        self._check(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._check(node)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._check(node)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_For(self, node: cst.For) -> None:
        if binds(node.target, self.found.name):
            self.found.add(None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and binds(node.asname.name, self.found.name):
            self.found.add(None)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and binds(node.name.name, self.found.name):
            self.found.add(None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if binds(node.target, self.found.name):
            self.found.add(node.value)

    # Comprehensions have their own scope.
    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return False

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return False

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return False

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return False


_SEQUENCES = (cst.Module, cst.IndentedBlock, cst.SimpleStatementLine, cst.SimpleStatementSuite)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_LOOPS = (cst.For, cst.While)
# The node types ``NameFlow._step`` finds bindings in (none has subclasses): most of the
# ancestors of a name are expressions, which a set lookup passes faster than isinstance()
# on libcst's ABC-based classes.
_BINDING_PARENTS = frozenset(
    (*_SEQUENCES, *_COMPREHENSIONS, *_LOOPS)
    + (cst.Try, cst.TryStar, cst.With, cst.ExceptHandler, cst.FunctionDef, cst.Lambda)
)


def _param_names(params: cst.Parameters) -> Set[str]:
    every = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return {param.name.value for param in every}


class NameFlow:
    """Parents of every node, and the values a name may hold where it is read.

    Within a function (or the module) statements are followed backwards from the read:
    an assignment kills what came before it, an ``if``/``else`` whose branches both
    assign kills too, other compound statements add their assignments as possibilities,
    and a loop adds the assignments of its whole body (they reach the next iteration).
    A name that is neither assigned in its function nor a parameter takes every value the
    enclosing scopes assign (the function may run after any of them).
    """

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self._nodes, self._parents = walk.parents(module)

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self._parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parents = self._parents
        parent = parents.get(id(node))
        while parent is not None:
            yield parent
            parent = parents.get(id(parent))

    def nodes(self, kind: Type[_N]) -> Iterator[_N]:
        """Every node of a type in the module (in no particular order)."""
        for node_type, found in self._by_type.items():
            if issubclass(node_type, kind):
                yield from found  # type: ignore[misc]

    @cached_property
    def _by_type(self) -> Dict[type, List[cst.CSTNode]]:
        by_type: Dict[type, List[cst.CSTNode]] = {}
        for node in self._nodes:
            by_type.setdefault(type(node), []).append(node)
        return by_type

    def reaching(self, name: cst.Name) -> Reaching:
        found = _Found(name.value)
        child: cst.CSTNode = name
        for parent in self.ancestors(name):
            if self._step(found, parent, child):
                break
            child = parent
        else:
            found.complete = False  # unbound at module level: a builtin or a star import
        return Reaching(tuple(found.values), found.complete)

    def values(self, expr: cst.CSTNode) -> Reaching:
        """What ``expr`` may be: a name's reaching values, or ``expr`` itself."""
        if isinstance(expr, cst.Name):
            return self.reaching(expr)
        return Reaching((expr,), True)

    # ---- internals -----------------------------------------------------------------

    def _step(self, found: _Found, parent: cst.CSTNode, child: cst.CSTNode) -> bool:
        """Account for the bindings ``parent`` adds before ``child`` runs; True to stop."""
        if type(parent) not in _BINDING_PARENTS:
            return False
        name = found.name
        if isinstance(parent, _SEQUENCES):
            body = list(parent.body)  # type: ignore[attr-defined]
            index = next((i for i, node in enumerate(body) if node is child), 0)
            return any(self._scan(found, statement) for statement in reversed(body[:index]))
        if isinstance(parent, _LOOPS) and child is not getattr(parent, "iter", None):
            if isinstance(parent, cst.For) and binds(parent.target, name):
                found.add(None)
                return True
            walk.visit(parent.body, _BindingFinder(found))  # the previous iteration's
            return False
        if isinstance(parent, (cst.Try, cst.TryStar)) and child is not parent.body:
            walk.visit(parent.body, _BindingFinder(found))
            return False
        if isinstance(parent, cst.With) and child is parent.body:
            return self._with_binds(found, parent)
        if isinstance(parent, cst.ExceptHandler) and child is parent.body:
            if parent.name is not None and binds(parent.name.name, name):
                found.add(None)
                return True
            return False
        if isinstance(parent, (cst.FunctionDef, cst.Lambda)) and child is parent.body:
            if name in _param_names(parent.params):
                found.add(None)
                return True
            if isinstance(parent, cst.FunctionDef):
                self._enclosing_scopes(found, parent)
                return True
            return False
        if isinstance(parent, _COMPREHENSIONS):
            if any(binds(comp.target, name) for comp in self._comp_fors(parent)):
                found.add(None)
                return True
        return False

    @staticmethod
    def _comp_fors(node: cst.CSTNode) -> Iterator[cst.CompFor]:
        comp = getattr(node, "for_in", None)
        while comp is not None:
            yield comp
            comp = comp.inner_for_in

    def _with_binds(self, found: _Found, node: cst.With) -> bool:
        for item in node.items:
            if item.asname is not None and binds(item.asname.name, found.name):
                found.add(None)
                return True
        return False

    def _scan(self, found: _Found, statement: cst.CSTNode) -> bool:
        """Add the bindings of an earlier ``statement``; True if it surely rebinds."""
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return any(self._scan(found, small) for small in reversed(statement.body))
        if isinstance(statement, cst.If):
            return self._scan_if(found, statement)
        if isinstance(statement, cst.With):
            return self._with_binds(found, statement) or self._scan_block(found, statement.body)
        if isinstance(statement, cst.BaseCompoundStatement) and not isinstance(
            statement, (cst.FunctionDef, cst.ClassDef)
        ):
            walk.visit(statement, _BindingFinder(found))
            return False
        bound, value = _binding(statement, found.name)
        if bound:
            found.add(value)
            return True
        walk.visit(statement, _BindingFinder(found))  # a walrus inside an expression statement
        return False

    def _scan_block(self, found: _Found, block: cst.BaseSuite) -> bool:
        if isinstance(block, cst.SimpleStatementSuite):
            return self._scan(found, block)
        return any(self._scan(found, statement) for statement in reversed(block.body))

    def _scan_if(self, found: _Found, node: cst.If) -> bool:
        body_rebinds = self._scan_block(found, node.body)
        orelse = node.orelse
        if orelse is None:
            return False
        if isinstance(orelse, cst.If):
            return self._scan_if(found, orelse) and body_rebinds
        return self._scan_block(found, orelse.body) and body_rebinds

    def _enclosing_scopes(self, found: _Found, function: cst.FunctionDef) -> None:
        for scope in self.ancestors(function):
            if not isinstance(scope, (cst.FunctionDef, cst.Module)):
                continue  # class bodies are not visible from their methods
            scope_body = scope.body if isinstance(scope, cst.Module) else scope.body.body
            for statement in scope_body:
                walk.visit(statement, _BindingFinder(found))
            if found.values or not found.complete:
                return
            if isinstance(scope, cst.FunctionDef) and found.name in _param_names(scope.params):
                found.add(None)
                return
        found.complete = False


# --------------------------------------------------------------------------------------
# Small helpers on calls and literals


def argument(call: cst.Call, keyword: str, position: Optional[int]) -> Optional[cst.Arg]:
    """The argument passed for a parameter, by keyword or by position."""
    positional = 0
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
        elif arg.star:
            return None  # positions after ``*args`` are unknown
        else:
            if positional == position:
                return arg
            positional += 1
    return None


def training_argument(call: cst.Call, parameter: str) -> Optional[cst.Arg]:
    """An argument of ``fit``/``fit_generator``/``train_on_batch`` by parameter name."""
    method = call.func.attr.value if isinstance(call.func, cst.Attribute) else ""
    return argument(call, parameter, _POSITIONS.get(method, {}).get(parameter))


def has_unpacking(call: cst.Call) -> bool:
    """Whether some argument is ``*args``/``**kwargs`` (any parameter may be in it)."""
    return any(arg.star for arg in call.args)


_NOT_LITERAL = object()


def _literal(expr: cst.CSTNode) -> object:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return expr.evaluated_value
    if (
        isinstance(expr, cst.UnaryOperation)
        and isinstance(expr.operator, cst.Minus)
        and isinstance(expr.expression, (cst.Integer, cst.Float))
    ):
        return -expr.expression.evaluated_value
    return _NOT_LITERAL


def _all_nodes(root: cst.CSTNode, kind: Type[_N]) -> List[_N]:
    return [node for node in walk.walk(root) if isinstance(node, kind)]


# --------------------------------------------------------------------------------------
# The facts


class StatefulFacts:
    """Stateful layers and models, state resets, and ``fit`` inputs in one file."""

    def __init__(self, semantics: "Semantics") -> None:
        self._semantics = semantics
        self.flow = NameFlow(semantics.module)
        self._stateful_models: Dict[int, bool] = {}

    @property
    def _imports(self) -> ImportTable:
        return self._semantics.imports

    # ---- literals through names ----------------------------------------------------

    def literal_values(self, expr: cst.CSTNode) -> Optional[FrozenSet[object]]:
        """The literal values ``expr`` may have (through names assigned literals), or
        None when some value is not a literal."""
        own = _literal(expr)
        if own is not _NOT_LITERAL:
            return frozenset({own})
        reaching = self.flow.values(expr)
        if not reaching.known:
            return None
        values = [_literal(value) for value in reaching.values]
        if any(value is _NOT_LITERAL for value in values):
            return None
        return frozenset(values)

    def _is_true(self, expr: Optional[cst.CSTNode]) -> bool:
        return expr is not None and self.literal_values(expr) == frozenset({True})

    # ---- stateful layers and models ------------------------------------------------

    def is_stateful_layer(self, call: cst.Call) -> bool:
        """Whether a layer constructor call builds a stateful recurrent layer (or a
        ``Bidirectional`` around one). ``LSTM(...)(inputs)`` is looked at as its
        constructor."""
        if isinstance(call.func, cst.Call):
            call = call.func
        if self._imports.is_keras(call.func, "layers.Bidirectional"):
            inner = argument(call, "layer", 0)
            return inner is not None and self._all_stateful_layers(inner.value)
        presets = self._recurrent_presets(call.func, 0)
        if presets is None:
            return False
        own = argument(call, "stateful", None)
        if own is not None:
            return self._is_true(own.value)
        return all(self._is_true(preset.get("stateful")) for preset in presets)

    def _all_stateful_layers(self, expr: cst.BaseExpression) -> bool:
        reaching = self.flow.values(expr)
        return reaching.known and all(
            isinstance(value, cst.Call) and self.is_stateful_layer(value)
            for value in reaching.values
        )

    def _recurrent_presets(
        self, expr: cst.CSTNode, depth: int
    ) -> Optional[List[Dict[str, cst.BaseExpression]]]:
        """If ``expr`` is a recurrent layer class on every path (directly, through a local
        alias, a ``functools.partial`` or a conditional), the keywords each path presets."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, (cst.Name, cst.Attribute)):
            member = self._imports.keras_member(expr)
            if member is not None:
                package, _, symbol = member.rpartition(".")
                return [{}] if package in ("layers", "") and symbol in RECURRENT_LAYERS else None
        if isinstance(expr, cst.IfExp):
            body = self._recurrent_presets(expr.body, depth + 1)
            orelse = self._recurrent_presets(expr.orelse, depth + 1)
            return body + orelse if body is not None and orelse is not None else None
        if isinstance(expr, cst.Call) and self._imports.is_name(expr.func, "functools.partial"):
            return self._partial_presets(expr, depth)
        if isinstance(expr, cst.Name):
            reaching = self.flow.reaching(expr)
            if not reaching.known:
                return None
            presets: List[Dict[str, cst.BaseExpression]] = []
            for value in reaching.values:
                found = self._recurrent_presets(value, depth + 1)
                if found is None:
                    return None
                presets.extend(found)
            return presets
        return None

    def _partial_presets(
        self, call: cst.Call, depth: int
    ) -> Optional[List[Dict[str, cst.BaseExpression]]]:
        wrapped = argument(call, "func", 0)
        if wrapped is None:
            return None
        inner = self._recurrent_presets(wrapped.value, depth + 1)
        if inner is None:
            return None
        keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
        return [{**preset, **keywords} for preset in inner]

    @cached_property
    def _passes_true_stateful(self) -> bool:
        """Whether some call passes ``stateful=`` a value that is literally true. No layer
        is stateful without one (on the layer, or preset with ``functools.partial``), so
        no model is, and which model a name holds need not be worked out."""
        return any(
            arg.keyword is not None and arg.keyword.value == "stateful" and self._is_true(arg.value)
            for call in self.flow.nodes(cst.Call)
            for arg in call.args
        )

    def is_stateful_model(self, model: "ModelValue") -> bool:
        key = id(model)
        if key not in self._stateful_models:
            self._stateful_models[key] = any(
                self.is_stateful_layer(call) for call in model.layer_calls
            )
        return self._stateful_models[key]

    def stateful_model(self, expr: cst.BaseExpression) -> Optional["ModelValue"]:
        """The model ``expr`` holds where it is read, if it is one known model and
        stateful."""
        if not self._passes_true_stateful:
            return None
        model = self._semantics.models.value_of(expr)
        return model if model is not None and self.is_stateful_model(model) else None

    # ---- state resets ----------------------------------------------------------------

    def resets_states(
        self, node: cst.CSTNode, model: Optional["ModelValue"] = None, depth: int = 0
    ) -> bool:
        """Whether some call inside ``node`` may reset the states of ``model``: a
        ``reset_states()``/``reset_state()`` on it, its layers, or on something that
        cannot be classified (not on a metric, nor on another known model), directly or in
        a local function or method called there. No ``model``: any such reset."""
        for call in _all_nodes(node, cst.Call):
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in RESET_METHODS:
                if self._may_reset(func.value, model):
                    return True
            elif depth < 3 and any(
                self.resets_states(function.body, model, depth + 1)
                for function in self._local_functions(func)
            ):
                return True
        return False

    def _may_reset(self, receiver: cst.BaseExpression, model: Optional["ModelValue"]) -> bool:
        if self._is_metric(receiver, 0):
            return False
        owner = self._semantics.models.value_of(self._layer_owner(receiver))
        return owner is None or owner is model

    def _layer_owner(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        """``m`` for ``m.layers[i]``, ``m.get_layer(...)``, or a loop variable over
        ``m.layers``; else ``expr`` itself."""
        if isinstance(expr, cst.Name):
            iterable = self._loop_iterable(expr)
            if iterable is not None:
                expr = iterable
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            if expr.func.attr.value == "get_layer":
                return expr.func.value
        if isinstance(expr, cst.Attribute) and expr.attr.value == "layers":
            return expr.value
        return expr

    def _loop_iterable(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        """What the innermost ``for`` binding ``name`` around it iterates over."""
        for ancestor in self.flow.ancestors(name):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return None
            if isinstance(ancestor, cst.For) and binds(ancestor.target, name.value):
                iterable = ancestor.iter
                while (
                    isinstance(iterable, cst.Call)
                    and isinstance(iterable.func, cst.Name)
                    and iterable.func.value in _ITERATION_WRAPPERS
                    and iterable.args
                ):
                    iterable = iterable.args[0].value
                return iterable
        return None

    def _is_metric(self, expr: cst.CSTNode, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Name):
            iterable = self._loop_iterable(expr)
            if iterable is not None:
                return self._is_metric_list(iterable)
            reaching = self.flow.reaching(expr)
            return reaching.known and all(
                self._is_metric(value, depth + 1) for value in reaching.values
            )
        if isinstance(expr, cst.Subscript):
            return self._is_metric_list(expr.value)
        if isinstance(expr, cst.Attribute):
            values = self._attribute_assignments(expr)
            return bool(values) and all(self._is_metric(value, depth + 1) for value in values)
        if isinstance(expr, cst.Call):
            return self._is_metric_class(expr.func, depth)
        return False

    def _is_metric_list(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        return isinstance(expr, cst.Attribute) and expr.attr.value == "metrics"

    def _is_metric_class(self, expr: cst.BaseExpression, depth: int) -> bool:
        member = self._imports.keras_member(expr)
        if member is not None:
            return member.startswith("metrics.")
        qualified = self._imports.qualified_name(expr) or ""
        if qualified.startswith("tensorflow.metrics."):
            return True
        return any(
            any(self._is_metric_class(base.value, depth + 1) for base in cls.bases)
            for cls in self._local_definitions(expr, cst.ClassDef)
        )

    def _attribute_assignments(self, expr: cst.Attribute) -> List[cst.BaseExpression]:
        """Every value assigned to ``self.<attr>`` in the module (for ``self.<attr>``)."""
        if not (isinstance(expr.value, cst.Name) and expr.value.value == "self"):
            return []
        values: List[cst.BaseExpression] = []
        for assign in self.flow.nodes(cst.Assign):
            for target in assign.targets:
                node = target.target
                if (
                    isinstance(node, cst.Attribute)
                    and isinstance(node.value, cst.Name)
                    and node.value.value == "self"
                    and node.attr.value == expr.attr.value
                ):
                    values.append(assign.value)
        return values

    def _local_functions(self, func: cst.BaseExpression) -> List[cst.FunctionDef]:
        """The module's own functions a call may run: ``f(...)`` through the name's
        reaching ``def``s, ``obj.m(...)`` every method named ``m`` of the module."""
        if isinstance(func, cst.Attribute):
            return self._methods.get(func.attr.value, [])
        return self._local_definitions(func, cst.FunctionDef)

    @cached_property
    def _methods(self) -> Dict[str, List[cst.FunctionDef]]:
        methods: Dict[str, List[cst.FunctionDef]] = {}
        for cls in self.flow.nodes(cst.ClassDef):
            for statement in cls.body.body:
                if isinstance(statement, cst.FunctionDef):
                    methods.setdefault(statement.name.value, []).append(statement)
        return methods

    def _local_definitions(self, expr: cst.BaseExpression, kind: Type[_N]) -> List[_N]:
        if not isinstance(expr, cst.Name):
            return []
        reaching = self.flow.reaching(expr)
        return [value for value in reaching.values if isinstance(value, kind)]

    # ---- resetting callbacks -------------------------------------------------------

    def callbacks_reset(self, call: cst.Call) -> bool:
        """Whether the ``callbacks=`` of a training call may reset the model's states
        (a callback the analysis cannot classify may)."""
        arg = training_argument(call, "callbacks")
        if arg is None:
            return has_unpacking(call)
        return self._callback_list_resets(arg.value, 0)

    def _callback_list_resets(self, expr: cst.BaseExpression, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return True
        if isinstance(expr, (cst.List, cst.Tuple)):
            return any(
                self._callback_list_resets(element.value, depth + 1)
                if isinstance(element, cst.StarredElement)
                else self._callback_resets(element.value, depth + 1)
                for element in expr.elements
            )
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return self._callback_list_resets(expr.left, depth + 1) or self._callback_list_resets(
                expr.right, depth + 1
            )
        if isinstance(expr, cst.Name):
            if expr.value == "None":
                return False
            reaching = self.flow.reaching(expr)
            return (
                not reaching.complete
                or any(self._callback_list_resets(value, depth + 1) for value in reaching.values)
                or self._appended_callbacks_reset(expr.value, depth)
            )
        return True

    def _appended_callbacks_reset(self, list_name: str, depth: int) -> bool:
        """Whether ``<list_name>.append/extend/insert(...)`` anywhere adds a resetting one."""
        for call in self.flow.nodes(cst.Call):
            func = call.func
            if not (
                isinstance(func, cst.Attribute)
                and isinstance(func.value, cst.Name)
                and func.value.value == list_name
                and func.attr.value in ("append", "extend", "insert")
                and call.args
            ):
                continue
            added = call.args[-1].value
            if func.attr.value == "extend":
                if self._callback_list_resets(added, depth + 1):
                    return True
            elif self._callback_resets(added, depth + 1):
                return True
        return False

    def _callback_resets(self, expr: cst.BaseExpression, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return True
        if isinstance(expr, cst.Name):
            reaching = self.flow.reaching(expr)
            return not reaching.complete or any(
                self._callback_resets(value, depth + 1)  # type: ignore[arg-type]
                for value in reaching.values
            )
        if not isinstance(expr, cst.Call):
            return True
        member = self._imports.keras_member(expr.func)
        if member is not None and member.endswith("LambdaCallback"):
            return self._lambda_callback_resets(expr)
        if member is not None and member.startswith("callbacks."):
            return False  # Keras' own callbacks never reset states
        classes = self._local_definitions(expr.func, cst.ClassDef)
        if not classes:
            return True
        return any(self._callback_class_resets(cls, depth + 1) for cls in classes)

    def _lambda_callback_resets(self, call: cst.Call) -> bool:
        for arg in call.args:
            if arg.keyword is None:
                return True
            if arg.keyword.value not in RESETTING_HOOKS:
                continue
            hook = arg.value
            if isinstance(hook, cst.Lambda):
                if self.resets_states(hook.body):
                    return True
                continue
            functions = self._local_definitions(hook, cst.FunctionDef)
            if not functions or any(self.resets_states(f.body) for f in functions):
                return True
        return False

    def _callback_class_resets(self, cls: cst.ClassDef, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return True
        for statement in cls.body.body:
            if (
                isinstance(statement, cst.FunctionDef)
                and statement.name.value in RESETTING_HOOKS
                and self.resets_states(statement.body)
            ):
                return True
        return any(self._base_may_reset(base.value, depth) for base in cls.bases)

    def _base_may_reset(self, base: cst.BaseExpression, depth: int) -> bool:
        if self._imports.keras_member(base) is not None:
            return False
        if isinstance(base, cst.Name) and base.value == "object":
            return False
        classes = self._local_definitions(base, cst.ClassDef)
        if not classes:
            return True  # a base class from elsewhere may reset
        return any(self._callback_class_resets(cls, depth + 1) for cls in classes)

    # ---- what fit trains on ----------------------------------------------------------

    def training_input(self, call: cst.Call) -> Optional[TrainingInput]:
        """What a ``fit`` call trains on, when every path agrees; None when the input is
        missing or the paths disagree."""
        arg = training_argument(call, "x")
        if arg is None:
            return None
        kinds = self._input_kinds(arg.value, 0)
        return next(iter(kinds)) if len(kinds) == 1 else None

    def _input_kinds(self, expr: cst.CSTNode, depth: int) -> Set[TrainingInput]:
        if depth > _MAX_DEPTH:
            return {TrainingInput.ARRAYS}
        if isinstance(expr, cst.Name):
            reaching = self.flow.reaching(expr)
            kinds: Set[TrainingInput] = set()
            if not reaching.complete:
                kinds.add(TrainingInput.ARRAYS)
            for value in reaching.values:
                kinds |= self._input_kinds(value, depth + 1)
            return kinds
        if isinstance(expr, cst.GeneratorExp):
            return {TrainingInput.GENERATOR}
        if isinstance(expr, cst.Call):
            return self._call_input_kinds(expr, depth)
        return {TrainingInput.ARRAYS}

    def _call_input_kinds(self, call: cst.Call, depth: int) -> Set[TrainingInput]:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _DATASET_METHODS:
            return self._pipeline_kinds(call, func, depth)
        if isinstance(func, cst.Attribute) and func.attr.value in _SEQUENCE_FACTORY_METHODS:
            return {TrainingInput.GENERATOR}
        factory = self._dataset_factory(call)
        if factory is not None:
            return {factory}
        member = self._imports.keras_member(func) or ""
        if member.endswith("TimeseriesGenerator"):
            return {TrainingInput.GENERATOR}
        kinds: Set[TrainingInput] = set()
        for function in self._local_definitions(func, cst.FunctionDef):
            kinds |= self._function_result_kinds(function, depth)
        for cls in self._local_definitions(func, cst.ClassDef):
            sequence = self._is_sequence_class(cls, depth)
            kinds.add(TrainingInput.GENERATOR if sequence else TrainingInput.ARRAYS)
        return kinds or {TrainingInput.ARRAYS}

    def _pipeline_kinds(
        self, call: cst.Call, func: cst.Attribute, depth: int
    ) -> Set[TrainingInput]:
        receiver = self._input_kinds(func.value, depth + 1)
        method = func.attr.value
        if not receiver <= _DATASETS and method not in _DATASET_ONLY_METHODS:
            return {TrainingInput.ARRAYS}
        if method == "shuffle":
            return {TrainingInput.SHUFFLED_DATASET}
        return {kind if kind in _DATASETS else TrainingInput.DATASET for kind in receiver}

    def _dataset_factory(self, call: cst.Call) -> Optional[TrainingInput]:
        qualified = self._imports.qualified_name(call.func) or ""
        symbol = qualified.rsplit(".", 1)[-1]
        if qualified.startswith("tensorflow.data."):
            shuffles = False
        elif qualified.startswith("keras.") and symbol in _DATASET_FACTORIES:
            shuffles = _DATASET_FACTORIES[symbol]
        else:
            return None
        shuffle = argument(call, "shuffle", None)
        if shuffle is not None:
            values = self.literal_values(shuffle.value)
            # A shuffle flag that cannot be read: do not claim the pipeline shuffles.
            shuffles = values is not None and any(bool(value) for value in values)
        return TrainingInput.SHUFFLED_DATASET if shuffles else TrainingInput.DATASET

    def _function_result_kinds(self, function: cst.FunctionDef, depth: int) -> Set[TrainingInput]:
        if _all_nodes(function.body, cst.Yield):
            return {TrainingInput.GENERATOR}
        kinds: Set[TrainingInput] = set()
        for statement in _all_nodes(function.body, cst.Return):
            if statement.value is not None and self._enclosing_function(statement) is function:
                kinds |= self._input_kinds(statement.value, depth + 1)
        return kinds or {TrainingInput.ARRAYS}

    def _enclosing_function(self, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        for ancestor in self.flow.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor
        return None

    def _is_sequence_class(self, cls: cst.ClassDef, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        for base in cls.bases:
            member = self._imports.keras_member(base.value) or ""
            if member.rsplit(".", 1)[-1] in ("Sequence", "PyDataset"):
                return True
            if any(
                self._is_sequence_class(parent, depth + 1)
                for parent in self._local_definitions(base.value, cst.ClassDef)
            ):
                return True
        return False

    # ---- loops ---------------------------------------------------------------------

    def enclosing_loops(self, node: cst.CSTNode) -> List[Union[cst.For, cst.While]]:
        """The ``for``/``while`` loops whose body holds ``node``, innermost first, up to
        the enclosing function."""
        loops: List[Union[cst.For, cst.While]] = []
        child = node
        for ancestor in self.flow.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                break
            if isinstance(ancestor, _LOOPS) and child is ancestor.body:
                loops.append(ancestor)
            child = ancestor
        return loops
