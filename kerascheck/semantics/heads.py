"""Model output heads, and the losses models are compiled with.

For a model built as a ``Sequential`` list, with ``.add(...)``, or functionally (also
through a builder function or a clone), the head is its output layer as far as it is
statically certain:

- ``units``: the literal ``units`` of the last ``Dense`` (``Dense(1)``), else None;
- ``activation``: the effective output activation, i.e. the outermost non-linear one
  (``Dense(n, activation=...)``, or a ``Dense(n)`` followed by ``Activation(...)``,
  ``Softmax()``, ``ReLU()``, ... or, functionally, ``tf.nn.softmax(...)``), with where it
  is written; None when unknown.

For every ``compile(...)`` of a single-output model with a known head: the loss, given as
a string, a ``keras.losses`` function (also inside a ``lambda`` or ``functools.partial``)
or a loss class instance, with its ``from_logits``.

The layers come from :mod:`.models`, but a layer counts only where it certainly runs: a
layer added in a branch or in a loop the model was not created in, or ``*``-spread into
the list, is an unknown stretch of layers (those after it still count); a layer added by
another function, a ``pop()``, or a layer changed in place (``m.layers[-1].activation =
...``) make the end of the model unknown. Anything unknown gives no head, so rules stay
silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from . import walk
from .imports import ImportTable
from .literals import integer_value
from .models import ModelFacts, ModelValue

# ---------------------------------------------------------------------------------------
# What the heads are made of


@dataclass(frozen=True)
class OutputActivation:
    """An activation and where the code chooses it.

    ``site`` is what a finding points at: the ``activation=`` argument, an
    ``Activation(...)``/``Softmax()`` layer call, a ``tf.nn.softmax(x)`` call, or the
    ``Dense(...)`` call itself when it has the default (linear) activation. ``value`` is
    the expression naming the activation (``"softmax"``, ``keras.activations.softmax``,
    the ``tf.nn.softmax`` of a call), None when nothing names it (a ``Softmax()`` layer,
    the default).
    """

    name: str
    site: cst.CSTNode
    value: Optional[cst.BaseExpression] = None

    @property
    def is_probability(self) -> bool:
        return self.name in ("softmax", "sigmoid")


@dataclass(frozen=True)
class OutputHead:
    """A model output: the layer that sets its width (None when not reached), that
    layer's literal ``units`` (None when not a literal or not a ``Dense``), and the
    effective activation (None when unknown)."""

    layer: Optional[cst.Call]
    units: Optional[int]
    activation: Optional[OutputActivation]


@dataclass(frozen=True)
class CompiledLoss:
    """A loss as written in ``compile``.

    ``node`` is the ``loss`` argument of ``compile`` (where findings go); ``name`` the
    snake-case loss (``"categorical_crossentropy"``, also for the class
    ``CategoricalCrossentropy`` and for the string ``"CategoricalCrossentropy"``);
    ``form`` is ``"string"``, ``"function"`` or ``"class"``; ``reference`` the string
    literal, the function expression or the class expression that names the loss;
    ``from_logits`` the literal expression passed for it, if any.
    """

    node: cst.BaseExpression
    name: str
    form: str
    reference: cst.BaseExpression
    from_logits: Optional[cst.BaseExpression] = None

    @property
    def is_from_logits(self) -> Optional[bool]:
        """True/False when known (absent means False), None when not a literal."""
        if self.from_logits is None:
            return False
        if isinstance(self.from_logits, cst.Name) and self.from_logits.value in ("True", "False"):
            return self.from_logits.value == "True"
        return None


@dataclass(frozen=True)
class Compilation:
    """A ``compile(...)`` of a known single-output model."""

    call: cst.Call
    model: ModelValue
    head: OutputHead
    loss: CompiledLoss


# ---------------------------------------------------------------------------------------
# Keras vocabulary

# Loss classes whose snake-case function is the same loss; ``from_logits`` is the first
# parameter of the first three.
LOSS_CLASSES = {
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
}
_FROM_LOGITS_FIRST = ("CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy")
LOSS_FUNCTIONS = frozenset(LOSS_CLASSES.values())
# ``loss(y_true, y_pred, from_logits, ...)``: the position of ``from_logits``.
_FROM_LOGITS_POSITION = 2

# Layers whose ``activation`` defaults to linear; only ``Dense`` has ``units``.
_LINEAR_BY_DEFAULT = frozenset(
    {
        "Dense",
        "EinsumDense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "Convolution1D",
        "Convolution2D",
        "Convolution3D",
    }
)
# Activation layers: they keep the width of the layer before them.
_ACTIVATION_LAYERS = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "prelu",
    "ThresholdedReLU": "thresholded_relu",
}
# Non-Keras activation functions, by canonical dotted name.
_TF_ACTIVATIONS = {
    "tensorflow.nn.softmax": "softmax",
    "tensorflow.math.softmax": "softmax",
    "tensorflow.nn.sigmoid": "sigmoid",
    "tensorflow.math.sigmoid": "sigmoid",
    "tensorflow.sigmoid": "sigmoid",
    "tensorflow.nn.relu": "relu",
    "tensorflow.nn.tanh": "tanh",
    "tensorflow.math.tanh": "tanh",
    "tensorflow.tanh": "tanh",
    "tensorflow.nn.log_softmax": "log_softmax",
}
# ``keras.activations`` functions that are not activations.
_ACTIVATION_HELPERS = frozenset({"get", "serialize", "deserialize"})
# ``keras.ops``/``keras.backend`` functions that are activations.
_TENSOR_ACTIVATIONS = frozenset({"softmax", "sigmoid", "relu", "tanh", "log_softmax"})
_COMPILE_LOSS_POSITION = 1
_LIST_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"})
# How far a tensor is traced back through activation layers and name bindings.
_TRACE_LIMIT = 12


@dataclass(frozen=True)
class _Layer:
    """What one layer (or activation function call) does to the output."""

    units: Optional[int]
    activation: Optional[OutputActivation]
    keeps_width: bool  # an activation: the width is the previous layer's


# ---------------------------------------------------------------------------------------
# Where calls sit: the blocks around them decide whether they certainly run in order.


@dataclass(frozen=True)
class _Placed:
    call: cst.Call
    blocks: Tuple[int, ...]  # ids of the enclosing suites and conditional expressions
    function: Optional[int]  # id of the innermost function or lambda, None at module level


class _Scan(cst.CSTVisitor):
    """Every call with the blocks around it, the names of lists changed in place, and
    models whose layers are changed in place."""

    def __init__(self) -> None:
        self.calls: List[_Placed] = []
        self.mutated_names: Set[str] = set()
        # Models whose layers are changed in place (``m.layers[-1].activation = ...``,
        # ``m.layers.pop()``), by the name the model is reached through.
        self.layer_edits: List[cst.Name] = []
        self._blocks: List[cst.CSTNode] = []
        self._functions: List[cst.CSTNode] = []
        # ``with`` bodies run once, like the code around them.
        self._straight_bodies: Set[int] = set()

    # Specific callbacks rather than on_visit/on_leave: the traversal then calls back only
    # for these node types instead of for every node of the file.

    def visit_With(self, node: cst.With) -> None:
        self._straight_bodies.add(id(node.body))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._functions.append(node)
        self._blocks.append(node)

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._blocks.pop()
        self._functions.pop()

    def _enter_suite(self, node: cst.BaseSuite) -> None:
        if id(node) not in self._straight_bodies:
            self._blocks.append(node)

    def _leave_suite(self, node: cst.BaseSuite) -> None:
        if id(node) not in self._straight_bodies:
            self._blocks.pop()

    visit_IndentedBlock = visit_SimpleStatementSuite = _enter_suite
    leave_IndentedBlock = leave_SimpleStatementSuite = _leave_suite

    def _enter_conditional(self, node: cst.CSTNode) -> None:
        self._blocks.append(node)

    def _leave_conditional(self, node: cst.CSTNode) -> None:
        self._blocks.pop()

    visit_IfExp = visit_BooleanOperation = _enter_conditional
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _enter_conditional
    leave_IfExp = leave_BooleanOperation = _leave_conditional
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_conditional

    def visit_Call(self, node: cst.Call) -> None:
        function = id(self._functions[-1]) if self._functions else None
        self.calls.append(_Placed(node, tuple(id(b) for b in self._blocks), function))
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _LIST_MUTATORS:
            return
        if isinstance(func.value, cst.Name):
            self.mutated_names.add(func.value.value)
        owner = _layers_owner(func.value)
        if owner is not None:
            self.layer_edits.append(owner)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.mutated_names.add(node.target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Subscript) and isinstance(node.target.value, cst.Name):
            self.mutated_names.add(node.target.value.value)
        # Only what changes an output: a layer's activation, or a layer replaced.
        target = node.target
        changes_output = isinstance(target, cst.Subscript) or (
            isinstance(target, cst.Attribute) and target.attr.value == "activation"
        )
        owner = _layers_owner(target) if changes_output else None
        if owner is not None:
            self.layer_edits.append(owner)


def _layers_owner(expr: cst.BaseExpression) -> Optional[cst.Name]:
    """``m`` in ``m.layers[-1].activation`` or ``m.get_layer("out").activation``: the
    model whose layers an expression reaches into."""
    while True:
        if (
            isinstance(expr, cst.Attribute)
            and expr.attr.value in ("layers", "get_layer")
            and isinstance(expr.value, cst.Name)
        ):
            return expr.value
        if isinstance(expr, cst.Call):
            expr = expr.func
        elif isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        else:
            return None


# ---------------------------------------------------------------------------------------
# The facts


class HeadFacts:
    """Output heads of the models in one file and the losses they are compiled with."""

    def __init__(
        self, module: cst.Module, imports: ImportTable, models: Callable[[], ModelFacts]
    ) -> None:
        self._module = module
        self._imports = imports
        self._model_facts = models
        self._heads: Dict[int, Tuple[OutputHead, ...]] = {}
        self._step_cache: Dict[int, Optional[List[Optional[cst.Call]]]] = {}

    @cached_property
    def _models(self) -> ModelFacts:
        # Only when a question needs them: most calls a rule asks about are no compile.
        return self._model_facts()

    # ---- queries ---------------------------------------------------------------------

    def heads_of(self, model: ModelValue) -> Tuple[OutputHead, ...]:
        """The model's output heads (one per output), or ``()`` when any is unknown."""
        key = id(model)
        if key not in self._heads:
            self._heads[key] = self._compute_heads(model)
        return self._heads[key]

    def compilation(self, call: cst.Call) -> Optional[Compilation]:
        """``call`` as a ``compile`` of a known single-output model with a known loss."""
        loss = self.compiled_loss(call)
        if loss is None:
            return None
        model = self._models.value_of(call.func.value)  # type: ignore[attr-defined]
        if model is None:
            return None
        heads = self.heads_of(model)
        # With several outputs, which loss goes where depends on Keras' version.
        if len(heads) != 1:
            return None
        return Compilation(call, model, heads[0], loss)

    def compiled_loss(self, call: cst.Call) -> Optional[CompiledLoss]:
        """The known loss of ``call`` when it is a ``compile``, whatever the model: asking
        costs no model analysis unless the loss is passed through a name."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "compile":
            return None
        loss_node = _argument(call, _COMPILE_LOSS_POSITION, "loss")
        return self._loss(loss_node, loss_node) if loss_node is not None else None

    @cached_property
    def output_heads(self) -> Tuple[OutputHead, ...]:
        """The heads of every known model, each head once; a model whose last layer
        another known model continues (a builder's model extended with ``.add`` at the
        call site) is left out."""
        continued = {
            id(step)
            for model in self._all_models
            for step in (self._steps(model) or [])[:-1]
            if step is not None
        }
        seen: Set[int] = set()
        out: List[OutputHead] = []
        for model in self._all_models:
            steps = self._steps(model)
            if steps and steps[-1] is not None and id(steps[-1]) in continued:
                continue
            for head in self.heads_of(model):
                where = head.activation.site if head.activation is not None else head.layer
                if id(where) not in seen:
                    seen.add(id(where))
                    out.append(head)
        return tuple(out)

    # ---- the models in the file ------------------------------------------------------

    @cached_property
    def _scan(self) -> _Scan:
        scan = _Scan()
        walk.visit(self._module, scan)
        return scan

    @cached_property
    def _placement(self) -> Dict[int, _Placed]:
        return {id(placed.call): placed for placed in self._scan.calls}

    @cached_property
    def _all_models(self) -> Tuple[ModelValue, ...]:
        """Every model object, in the order of its creation in the source."""
        found: List[ModelValue] = []
        for placed in self._scan.calls:
            model = self._models.value_of(placed.call)
            if model is not None and model.creation is placed.call:
                found.append(model)
        return tuple(found)

    @cached_property
    def _layer_changes(self) -> List[Tuple[_Placed, cst.Attribute]]:
        """``x.add(...)`` and ``x.pop(...)`` calls with their callee, in source order."""
        return [
            (placed, placed.call.func)
            for placed in self._scan.calls
            if isinstance(placed.call.func, cst.Attribute)
            and placed.call.func.attr.value in ("add", "pop")
        ]

    # ---- heads -----------------------------------------------------------------------

    def _compute_heads(self, model: ModelValue) -> Tuple[OutputHead, ...]:
        if self._layers_edited(model):
            return ()
        functional = self._functional_base(model)
        if functional is not None:
            heads = [self._head(self._tensor_steps(output)) for output in self._outputs(functional)]
        else:
            steps = self._steps(model)
            heads = [self._head(steps) if steps else None]
        known = tuple(head for head in heads if head is not None)
        return known if heads and len(known) == len(heads) else ()

    def _layers_edited(self, model: ModelValue) -> bool:
        """Whether ``model`` may have its layers changed in place (``m.layers[-1].activation
        = ...``, ``m.layers.pop()``), through any name of it or of a model built from it."""
        return any(id(value) in self._edited for value in _lineage(model))

    @cached_property
    def _edited(self) -> Set[int]:
        return {
            id(value)
            for owner in self._scan.layer_edits
            for model in self._models.possible_values(owner)
            for value in _lineage(model)
        }

    def _functional_base(self, model: ModelValue) -> Optional[ModelValue]:
        """The functional model ``model`` is (through builders and clones), with no
        layers added on top."""
        for value in _lineage(model):
            if value.kind == "functional":
                return value
            if self._changes(value) != []:
                return None
        return None

    def _outputs(self, model: ModelValue) -> List[cst.BaseExpression]:
        outputs = _argument(model.creation, 1, "outputs", "output")
        if outputs is None:
            return []
        if isinstance(outputs, (cst.List, cst.Tuple)):
            if any(isinstance(e, cst.StarredElement) for e in outputs.elements):
                return []
            return [element.value for element in outputs.elements]
        return [outputs]

    def _head(self, steps: Sequence[Optional[cst.Call]]) -> Optional[OutputHead]:
        """The head that a run of layers ends in (None entries: unknown layers)."""
        activation: Optional[OutputActivation] = None
        activation_known = True
        for step in reversed(steps):
            layer = self._layer(step) if step is not None else None
            if layer is None:
                break
            if activation is None and activation_known:
                if layer.activation is None:
                    activation_known = False
                elif layer.activation.name != "linear":
                    activation = layer.activation
            if not layer.keeps_width:
                if activation is None and activation_known:
                    activation = layer.activation
                return OutputHead(step, layer.units, activation if activation_known else None)
        if activation is None:
            return None
        return OutputHead(None, None, activation)

    # ---- sequential models: their layers in order ------------------------------------

    def _steps(self, model: ModelValue) -> Optional[List[Optional[cst.Call]]]:
        """The model's layers in order, None for a place where unknown layers (zero or
        more) may be; None for models that are not built as a sequence."""
        key = id(model)
        if key not in self._step_cache:
            self._step_cache[key] = None  # a model built from itself is no sequence
            self._step_cache[key] = self._compute_steps(model)
        return self._step_cache[key]

    def _compute_steps(self, model: ModelValue) -> Optional[List[Optional[cst.Call]]]:
        if model.kind == "sequential":
            steps = self._list_steps(_argument(model.creation, 0, "layers"))
        elif model.kind in ("builder", "clone"):
            basis = model.built if model.kind == "builder" else model.source
            base = self._steps(basis) if basis is not None else None
            if base is None:
                return None
            steps = list(base)
        else:
            return None
        return steps + self._added_steps(model)

    def _list_steps(self, layers: Optional[cst.BaseExpression]) -> List[Optional[cst.Call]]:
        if layers is None:
            return []
        if isinstance(layers, cst.Name):
            if layers.value in self._scan.mutated_names:
                return [None]
            layers = self._bound_value(layers)
        if not isinstance(layers, (cst.List, cst.Tuple)):
            return [None]
        return [
            None if isinstance(element, cst.StarredElement) else self._layer_call(element.value)
            for element in layers.elements
        ]

    def _changes(self, model: ModelValue) -> Optional[List[Tuple[_Placed, str]]]:
        """The ``.add``/``.pop`` calls on ``model`` (with the method) in source order;
        None when one of them may or may not be on it."""
        changes: List[Tuple[_Placed, str]] = []
        for placed, func in self._layer_changes:
            target = self._models.value_of(func.value)
            if target is model:
                changes.append((placed, func.attr.value))
            elif target is None and model in self._models.possible_values(func.value):
                return None
        return changes

    def _added_steps(self, model: ModelValue) -> List[Optional[cst.Call]]:
        """The layers ``.add`` appends to ``model``: each a step if it certainly runs once,
        right after the ones before it, else None."""
        creation = self._placement.get(id(model.creation))
        changes = self._changes(model)
        if creation is None or changes is None:
            return [None]
        steps: List[Optional[cst.Call]] = []
        for placed, method in changes:
            if placed.function != creation.function or method == "pop":
                # From here on the source order does not tell what the model holds.
                return steps + [None]
            certain = placed.blocks == creation.blocks and bool(placed.call.args)
            steps.append(self._layer_call(placed.call.args[0].value) if certain else None)
        return steps

    def _layer_call(self, expr: cst.BaseExpression) -> Optional[cst.Call]:
        """The layer constructor call ``expr`` is (directly or through a name)."""
        if isinstance(expr, cst.Name):
            bound = self._bound_value(expr)
            expr = bound if bound is not None else expr
        return expr if isinstance(expr, cst.Call) else None

    # ---- functional models: tracing an output tensor back ----------------------------

    def _tensor_steps(self, tensor: cst.BaseExpression) -> List[Optional[cst.Call]]:
        """The layers that compute ``tensor``, last one last, back to the first layer
        that sets its width."""
        steps: List[Optional[cst.Call]] = []
        current: Optional[cst.BaseExpression] = tensor
        for _ in range(_TRACE_LIMIT):
            if isinstance(current, cst.Name):
                current = self._bound_value(current)
                continue
            produced = self._producer(current) if isinstance(current, cst.Call) else None
            if produced is None:
                break
            step, current = produced
            steps.append(step)
            layer = self._layer(step)
            if layer is None or not layer.keeps_width or current is None:
                return list(reversed(steps))
        return [None] + list(reversed(steps))

    def _producer(self, tensor: cst.Call) -> Optional[Tuple[cst.Call, Optional[cst.BaseExpression]]]:
        """The layer (or activation call) that computes ``tensor``, and its input."""
        first_input = _argument(tensor, 0, "inputs", "x")
        func = tensor.func
        if isinstance(func, cst.Call):
            return func, first_input
        if self._function_activation(func) is not None:
            return tensor, first_input
        if isinstance(func, cst.Name):
            layer = self._bound_value(func)
            if isinstance(layer, cst.Call):
                return layer, first_input
        return None

    def _bound_value(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        """The expression ``name`` certainly holds here, from its one reaching binding."""
        origins = self._models.origins_of(name)
        if len(origins) != 1:
            return None
        origin = origins[0]
        if isinstance(origin, cst.Assign) and all(isinstance(t.target, cst.Name) for t in origin.targets):
            return origin.value
        if isinstance(origin, (cst.AnnAssign, cst.NamedExpr)) and isinstance(origin.target, cst.Name):
            return origin.value
        return None

    # ---- layers and activations ------------------------------------------------------

    def _layer(self, call: cst.Call) -> Optional[_Layer]:
        function_activation = self._function_activation(call.func)
        if function_activation is not None:
            return _Layer(None, OutputActivation(function_activation, call, call.func), True)
        member = self._imports.keras_member(call.func)
        if member is None or not member.startswith("layers."):
            return None
        symbol = member.split(".", 1)[1]
        if symbol in _LINEAR_BY_DEFAULT:
            return self._linear_by_default(call, symbol)
        if symbol == "Activation":
            argument = _argument_node(call, 0, "activation")
            if argument is None:
                return None
            return _Layer(None, self._activation(argument.value, call), True)
        if symbol == "Softmax":
            axis = _argument(call, 0, "axis")
            last_axis = axis is None or integer_value(axis) == -1
            return _Layer(None, OutputActivation("softmax", call) if last_axis else None, True)
        if symbol in _ACTIVATION_LAYERS:
            return _Layer(None, OutputActivation(_ACTIVATION_LAYERS[symbol], call), True)
        return None

    def _linear_by_default(self, call: cst.Call, symbol: str) -> _Layer:
        units = integer_value(_argument(call, 0, "units")) if symbol == "Dense" else None
        # Only ``Dense`` takes the activation by position (second).
        argument = _argument_node(call, 1 if symbol == "Dense" else None, "activation")
        if argument is not None:
            activation = self._activation(argument.value, argument)
        elif any(arg.star == "**" for arg in call.args):
            activation = None
        else:
            activation = OutputActivation("linear", call)
        return _Layer(units, activation, False)

    def _activation(self, value: cst.BaseExpression, site: cst.CSTNode) -> Optional[OutputActivation]:
        if isinstance(value, cst.SimpleString):
            name = value.evaluated_value
            return OutputActivation(name, site, value) if isinstance(name, str) else None
        if isinstance(value, cst.Name) and value.value == "None":
            return OutputActivation("linear", site, value)
        name = self._function_activation(value)
        return OutputActivation(name, site, value) if name is not None else None

    def _function_activation(self, func: cst.BaseExpression) -> Optional[str]:
        """``"softmax"`` for ``keras.activations.softmax``, ``tf.nn.softmax``, ..."""
        qualified = self._imports.qualified_name(func)
        if qualified is None:
            return None
        if qualified in _TF_ACTIVATIONS:
            return _TF_ACTIVATIONS[qualified]
        member = self._imports.keras_member(func)
        if member is None:
            return None
        package, _, symbol = member.rpartition(".")
        if package == "activations" and symbol not in _ACTIVATION_HELPERS:
            return symbol
        return symbol if package in ("ops", "backend") and symbol in _TENSOR_ACTIVATIONS else None

    # ---- losses ----------------------------------------------------------------------

    def _loss(
        self, expr: cst.BaseExpression, node: cst.BaseExpression, depth: int = 0
    ) -> Optional[CompiledLoss]:
        """The loss ``expr`` names; ``node`` is the ``loss`` argument it came from."""
        if isinstance(expr, cst.SimpleString):
            text = expr.evaluated_value
            name = LOSS_CLASSES.get(text, text) if isinstance(text, str) else None
            return CompiledLoss(node, name, "string", expr) if name else None
        function = self._loss_function(expr)
        if function is not None:
            return CompiledLoss(node, function, "function", expr)
        if isinstance(expr, cst.Call):
            return self._loss_call(expr, node)
        if isinstance(expr, cst.Lambda):
            return self._loss_lambda(expr, node)
        if isinstance(expr, cst.Name) and depth < _TRACE_LIMIT:
            bound = self._bound_value(expr)
            return self._loss(bound, node, depth + 1) if bound is not None else None
        return None

    def _loss_call(self, call: cst.Call, node: cst.BaseExpression) -> Optional[CompiledLoss]:
        member = self._imports.keras_member(call.func)
        symbol = member.rpartition(".")[2] if member is not None else None
        if member is not None and member.startswith("losses.") and symbol in LOSS_CLASSES:
            position = 0 if symbol in _FROM_LOGITS_FIRST else None
            return CompiledLoss(
                node, LOSS_CLASSES[symbol], "class", call.func, _argument(call, position, "from_logits")
            )
        if self._imports.is_name(call.func, "functools.partial") and call.args:
            function = self._loss_function(call.args[0].value)
            if function is not None:
                return CompiledLoss(
                    node, function, "function", call.args[0].value, _argument(call, None, "from_logits")
                )
        return None

    def _loss_lambda(self, function: cst.Lambda, node: cst.BaseExpression) -> Optional[CompiledLoss]:
        """``lambda y, p: losses.f(y, p, from_logits=...)``: the predictions go straight in."""
        params = [p.name.value for p in function.params.params]
        body = function.body
        if len(params) != 2 or not isinstance(body, cst.Call):
            return None
        name = self._loss_function(body.func)
        passed = [arg.value for arg in body.args[:2] if arg.keyword is None]
        if name is None or [p.value if isinstance(p, cst.Name) else None for p in passed] != params:
            return None
        from_logits = _argument(body, _FROM_LOGITS_POSITION, "from_logits")
        return CompiledLoss(node, name, "function", body.func, from_logits)

    def _loss_function(self, expr: cst.BaseExpression) -> Optional[str]:
        """``"categorical_crossentropy"`` for ``keras.losses.categorical_crossentropy``
        (also the ``keras.metrics`` one)."""
        member = self._imports.keras_member(expr)
        if member is None:
            return None
        package, _, symbol = member.rpartition(".")
        return symbol if package in ("losses", "metrics") and symbol in LOSS_FUNCTIONS else None


def _lineage(model: ModelValue) -> List[ModelValue]:
    """``model`` and the models it is made from (a builder's model, a clone's source)."""
    out: List[ModelValue] = []
    current: Optional[ModelValue] = model
    while current is not None and all(current is not seen for seen in out):
        out.append(current)
        current = current.built if current.kind == "builder" else current.source
    return out


# ---------------------------------------------------------------------------------------
# Arguments


def _argument_node(call: cst.Call, position: Optional[int], keyword: str) -> Optional[cst.Arg]:
    """The argument passed as ``keyword``, or at ``position`` (None: keyword only)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    if position is None:
        return None
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in positional[: position + 1]):
        return None
    return positional[position] if position < len(positional) else None


def _argument(call: cst.Call, position: Optional[int], *keywords: str) -> Optional[cst.BaseExpression]:
    for keyword in keywords:
        arg = _argument_node(call, None, keyword)
        if arg is not None:
            return arg.value
    arg = _argument_node(call, position, keywords[0]) if position is not None else None
    return arg.value if arg is not None else None


def sibling_spelling(imports: ImportTable, reference: cst.BaseExpression, symbol: str) -> Optional[str]:
    """How this file writes ``symbol`` from the module ``reference`` comes from:
    ``keras.losses.categorical_crossentropy`` -> ``keras.losses.binary_crossentropy``;
    for a bare imported name, a spelling through the file's other imports; else None."""
    if isinstance(reference, cst.Attribute):
        return f"{cst.Module([]).code_for_node(reference.value)}.{symbol}"
    qualified = imports.qualified_name(reference)
    if qualified is None or "." not in qualified:
        return None
    return imports.spelling_for(f"{qualified.rsplit('.', 1)[0]}.{symbol}")
