"""Unit tests of the shared model value tracking (``kerascheck.semantics.models``)."""

from __future__ import annotations

import textwrap
from typing import List, Optional

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from kerascheck.semantics.imports import ImportTable
from kerascheck.semantics.models import ModelFacts, ModelValue


class Program:
    """A parsed snippet with its model facts, queried by (name, line)."""

    def __init__(self, code: str) -> None:
        self.module = cst.parse_module(textwrap.dedent(code))
        self.facts = ModelFacts(self.module, ImportTable(self.module))
        positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        self.line = {id(node): where.start.line for node, where in positions.items()}
        self.nodes: List[cst.CSTNode] = [node for node in positions]

    def names(self, name: str, line: int) -> List[cst.Name]:
        found = [
            n
            for n in self.nodes
            if isinstance(n, cst.Name) and n.value == name and self.line[id(n)] == line
        ]
        assert found, f"no `{name}` on line {line}"
        return found

    def value(self, name: str, line: int, index: int = -1) -> Optional[ModelValue]:
        return self.facts.value_of(self.names(name, line)[index])

    def possible(self, name: str, line: int) -> tuple:
        return self.facts.possible_values(self.names(name, line)[-1])

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def layers(self, value: ModelValue) -> List[str]:
        return [self.code(call) for call in value.layer_calls]

    def function(self, name: str, index: int = 0) -> cst.FunctionDef:
        return [n for n in self.nodes if isinstance(n, cst.FunctionDef) and n.name.value == name][
            index
        ]


def test_sequential_layers_from_the_list_and_every_add():
    p = Program(
        """
        from keras.models import Sequential
        from keras.layers import LSTM, Dense
        model = Sequential([LSTM(4, stateful=True)])
        model.add(Dense(8))
        model.add(Dense(1, activation="sigmoid"))
        model.fit(x, y)
        """
    )
    value = p.value("model", 7)
    assert value is not None and value.kind == "sequential"
    assert p.layers(value) == [
        "LSTM(4, stateful=True)",
        "Dense(8)",
        'Dense(1, activation="sigmoid")',
    ]
    assert value is p.value("model", 4)


@pytest.mark.parametrize(
    "imports, call",
    [
        ("import tensorflow as tf", "tf.keras.Sequential()"),
        ("from tensorflow import keras", "keras.models.Sequential()"),
        ("import tf_keras as keras", "keras.Sequential()"),
        ("from tensorflow.keras.models import *", "Sequential()"),
    ],
)
def test_every_keras_spelling_creates_a_model(imports, call):
    p = Program(f"{imports}\nmodel = {call}\nmodel.fit(x)\n")
    assert p.value("model", 3).kind == "sequential"


def test_other_libraries_are_not_models():
    p = Program(
        """
        import torch
        from sklearn.pipeline import Pipeline
        net = torch.nn.Sequential(torch.nn.Linear(2, 1))
        pipe = Pipeline([])
        net.train()
        pipe.fit(x, y)
        """
    )
    assert p.value("net", 6) is None and p.value("pipe", 7) is None


def test_rebinding_is_flow_sensitive():
    p = Program(
        """
        from tensorflow import keras
        stateless_model = keras.Sequential([keras.layers.LSTM(8)])
        model = stateless_model
        model.evaluate(x, y)
        model = keras.Sequential([keras.layers.LSTM(8, stateful=True)])
        model.fit(x, y)
        """
    )
    first, second = p.value("model", 5), p.value("model", 7)
    assert first is p.value("stateless_model", 3)
    assert second is not None and second is not first
    assert p.layers(second) == ["keras.layers.LSTM(8, stateful=True)"]


def test_branches_merge_into_several_possible_values():
    p = Program(
        """
        import keras
        if pretrained:
            model = keras.models.load_model("m.keras")
        else:
            model = keras.Sequential()
        model.fit(x, y)
        """
    )
    assert p.value("model", 7) is None
    assert sorted(v.kind for v in p.possible("model", 7)) == ["loaded", "sequential"]


def test_name_bound_on_one_path_only_is_not_definite():
    p = Program(
        """
        import keras
        if fresh:
            model = keras.Sequential()
        model.fit(x, y)
        """
    )
    assert p.value("model", 5) is None
    assert len(p.possible("model", 5)) == 1


def test_loop_body_may_see_a_later_binding():
    p = Program(
        """
        import keras
        model = keras.Sequential()
        for epoch in range(3):
            model.fit(x, y)
            model = keras.Sequential()
        model.fit(x, y)
        """
    )
    assert p.value("model", 5) is None
    assert p.value("model", 6) is not None
    assert len(p.possible("model", 7)) == 2


def test_loop_that_does_not_rebind_keeps_the_value():
    p = Program(
        """
        import keras
        model = keras.Sequential()
        for epoch in range(3):
            model.fit(x, y, epochs=1)
            model.reset_states()
        """
    )
    value = p.value("model", 3)
    assert p.value("model", 5) is value and p.value("model", 6) is value


def test_functional_model_traces_layers_from_inputs_to_outputs():
    p = Program(
        """
        from tensorflow.keras import layers, Model, Input

        def build(units):
            inputs = Input(shape=(4,))
            x = layers.Dense(units, activation="relu")(inputs)
            shared = layers.Dense(units)
            x = shared(x)
            branch = layers.Dense(2)(inputs)
            merged = layers.concatenate([x, branch])
            outputs = layers.Dense(1, activation="softmax")(merged)
            return Model(inputs=inputs, outputs=outputs)

        model = build(8)
        model.fit(x, y)
        """
    )
    value = p.value("model", 15)
    assert value.kind == "builder" and value.built.kind == "functional"
    assert p.layers(value) == [
        'layers.Dense(units, activation="relu")',
        "layers.Dense(units)",
        "layers.Dense(2)",
        'layers.Dense(1, activation="softmax")',
    ]
    assert value.built.created_inside(p.function("build"))


def test_every_builder_call_is_a_fresh_object():
    p = Program(
        """
        import keras

        def build():
            model = keras.Sequential()
            model.add(keras.layers.Dense(1))
            return model

        a = build()
        b = build()
        a.fit(x)
        b.fit(x)
        """
    )
    a, b = p.value("a", 11), p.value("b", 12)
    assert a.kind == b.kind == "builder" and a is not b and a.built is b.built
    assert p.layers(a) == ["keras.layers.Dense(1)"]


def test_function_returning_its_argument_or_a_global_returns_the_same_object():
    p = Program(
        """
        import keras
        base = keras.Sequential()

        def prepared(model):
            model.compile(optimizer="adam", loss="mse")
            return model

        def get():
            return base

        same = prepared(base)
        also_same = get()
        same.fit(x)
        also_same.fit(x)
        """
    )
    base = p.value("base", 3)
    assert p.value("same", 14) is base and p.value("also_same", 15) is base


def test_parameter_takes_the_value_every_call_site_passes():
    p = Program(
        """
        import keras

        def train(model, lr):
            model.fit(x, y)

        def evaluate(model):
            model.evaluate(x, y)

        shared = keras.Sequential()
        train(shared, 0.1)
        train(model=shared, lr=0.01)
        evaluate(keras.Sequential())
        evaluate(keras.Sequential())
        """
    )
    assert p.value("model", 5) is p.value("shared", 10)
    assert p.value("model", 8) is None
    assert len(p.possible("model", 8)) == 2


def test_parameter_of_a_function_passed_around_or_decorated_is_unknown():
    p = Program(
        """
        import functools
        import keras

        def train(model):
            model.fit(x, y)

        @functools.lru_cache
        def cached(model):
            model.fit(x, y)

        shared = keras.Sequential()
        train(shared)
        cached(shared)
        callbacks = [train]
        """
    )
    assert p.value("model", 6) is None and p.value("model", 10) is None
    assert p.facts.call_sites(p.function("train")) is None
    assert p.facts.call_sites(p.function("cached")) is None


def test_call_sites_record_their_loops():
    p = Program(
        """
        import keras
        model = keras.Sequential()

        def run(lr):
            model.fit(x, y)

        for lr in (0.1, 0.01):
            run(lr)
        run(0.5)
        """
    )
    sites = p.facts.call_sites(p.function("run"))
    assert [len(site.enclosing) for site in sites] == [1, 0]
    assert isinstance(sites[0].enclosing[0], cst.For)


def test_global_model_seen_inside_functions():
    p = Program(
        """
        from tensorflow import keras
        model = keras.Sequential()

        def comp_train(lr):
            model_copy = model
            model_copy.fit(x, y)
        """
    )
    value = p.value("model", 3)
    assert p.value("model", 6) is value and p.value("model_copy", 7) is value


def test_global_rebound_inside_a_function_is_not_definite():
    p = Program(
        """
        import keras
        model = keras.Sequential()

        def reset():
            global model
            model = keras.Sequential()

        reset()
        model.fit(x, y)
        """
    )
    assert p.value("model", 10) is None


def test_clones_copies_loads_and_subclasses():
    p = Program(
        """
        import copy
        import keras
        from keras.models import load_model, clone_model

        class Net(keras.Model):
            pass

        class Deeper(Net):
            pass

        base = keras.Sequential([keras.layers.Dense(1)])
        twin = clone_model(base)
        snapshot = copy.deepcopy(base)
        loaded = load_model("m.keras")
        net = Deeper()
        twin.fit(x); snapshot.fit(x); loaded.fit(x); net.fit(x)
        """
    )
    base = p.value("base", 12)
    twin, snapshot = p.value("twin", 17), p.value("snapshot", 17)
    assert twin.kind == snapshot.kind == "clone" and twin.source is snapshot.source is base
    assert p.layers(twin) == ["keras.layers.Dense(1)"]
    assert p.value("loaded", 17).kind == "loaded"
    assert p.value("net", 17).kind == "subclass"


def test_tuple_assignment_pairs_elements():
    p = Program(
        """
        import keras
        model = keras.Sequential()
        copy, name = model, "copy"
        a, b = pair
        copy.fit(x); a.fit(x)
        """
    )
    assert p.value("copy", 6) is p.value("model", 3)
    assert p.value("a", 6) is None


def test_origins_name_the_binding_statement():
    p = Program(
        """
        import keras
        model = keras.Sequential()
        alias = model
        alias.fit(x)
        """
    )
    (origin,) = p.facts.origins_of(p.names("alias", 5)[0])
    assert isinstance(origin, cst.Assign) and p.code(origin) == "alias = model"


def test_comprehension_and_lambda_parameters_shadow_outer_names():
    p = Program(
        """
        import keras
        model = keras.Sequential()
        results = [model.evaluate(x) for model in others]
        callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: model.reset_states())
        """
    )
    assert p.value("model", 4, index=0) is None
    assert p.value("model", 5) is p.value("model", 3)


def test_strings_are_not_code():
    p = Program(
        '''
        """model = keras.Sequential()"""
        import keras
        text = "model.fit(x)"
        model = None
        model.fit(x)
        '''
    )
    assert p.value("model", 6) is None


def test_methods_and_inner_locals_do_not_hide_a_module_function():
    p = Program(
        """
        import keras

        class Trainer:
            def train(self, model):
                model.fit(x, y)

        def train(model):
            model.fit(x, y)

        def other():
            train = None
            return train

        shared = keras.Sequential()
        train(shared)
        train(shared)
        """
    )
    assert p.facts.call_sites(p.function("train", 0)) is None  # the method
    assert len(p.facts.call_sites(p.function("train", 1))) == 2
    assert p.value("model", 9) is p.value("shared", 15)
    assert p.value("model", 6) is None


def test_nested_builder_of_a_builder():
    p = Program(
        """
        from keras import layers
        from keras.models import Sequential

        def base():
            return Sequential([layers.Dense(4)])

        def head():
            model = base()
            model.add(layers.Dense(1))
            return model

        net = head()
        net.fit(x)
        """
    )
    value = p.value("net", 14)
    assert value.kind == "builder" and value.built.kind == "builder"
    assert p.layers(value) == ["layers.Dense(4)", "layers.Dense(1)"]
