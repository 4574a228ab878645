"""How long an editor waits for findings: from a ``didChange`` of a 1,000-line Keras file to
the ``publishDiagnostics`` that answers it, through the real ``kerascheck server``.

    python benchmarks/lsp_latency.py [--runs 15] [--lines 1000]

The time includes the server's debounce, as a user experiences it. Each change alternates
between two texts (one optimizer's ``lr=`` renamed or not), so no run is served from the
server's cache. Prints every run and the median; the target is 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from lsprotocol import types
from pygls.lsp.client import LanguageClient

TARGET_MS = 200.0
# Bounds a run only when the server never answers.
TIMEOUT_SECONDS = 60.0

HEADER = "from tensorflow import keras\nimport numpy as np\n"
BLOCK = """

def build_model_{i}(units={units}):
    inputs = keras.Input(shape=(32, 8))
    x = keras.layers.LSTM(units, return_sequences=True)(inputs)
    x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam({keyword}=1e-3), loss="binary_crossentropy")
    return model


def train_{i}(model, x, y):
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.1)
    return history.history["loss"][-1]
"""


def keras_file(lines: int) -> str:
    """A realistic file of exactly ``lines`` lines: model builders and training functions,
    one in four of them with an optimizer built with the old ``lr=`` keyword (KC006)."""
    text = HEADER
    index = 0
    while text.count("\n") < lines:
        keyword = "lr" if index % 4 == 0 else "learning_rate"
        text += BLOCK.format(i=index, units=16 + index % 48, keyword=keyword)
        index += 1
    return "\n".join(text.split("\n")[:lines]) + "\n"


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("kerascheck-latency-benchmark", "1")
        self.arrivals: Dict[int, asyncio.Future] = {}

    def expect(self, version: int) -> asyncio.Future:
        self.arrivals[version] = asyncio.get_running_loop().create_future()
        return self.arrivals[version]


async def measure(runs: int, lines: int) -> List[float]:
    client = Client()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams) -> None:
        arrival = client.arrivals.pop(params.version, None) if params.version is not None else None
        if arrival is not None and not arrival.done():
            arrival.set_result(time.perf_counter())

    await client.start_io(sys.executable, "-m", "kerascheck", "server")
    with tempfile.TemporaryDirectory() as folder:
        uri = (Path(folder) / "train.py").as_uri()
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), root_uri=Path(folder).as_uri()
            )
        )
        client.initialized(types.InitializedParams())
        texts = [keras_file(lines), keras_file(lines).replace("lr=", "learning_rate=", 1)]

        # The first lint also imports every rule: not what a user waits for while typing.
        opened = client.expect(1)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=texts[0]
                )
            )
        )
        await asyncio.wait_for(opened, TIMEOUT_SECONDS)

        timings = []
        for run in range(runs):
            version = run + 2
            arrival = client.expect(version)
            sent = time.perf_counter()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[
                        types.TextDocumentContentChangeWholeDocument(text=texts[(run + 1) % 2])
                    ],
                )
            )
            received = await asyncio.wait_for(arrival, TIMEOUT_SECONDS)
            timings.append((received - sent) * 1000)
            print(f"run {run + 1:2d}: {timings[-1]:7.1f} ms", flush=True)

        await client.shutdown_async(None)
        client.exit(None)
    await client.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="changes to time (default 15)")
    parser.add_argument("--lines", type=int, default=1000, help="file length (default 1000)")
    options = parser.parse_args()
    timings = asyncio.run(measure(options.runs, options.lines))
    median = statistics.median(timings)
    verdict = "within" if median <= TARGET_MS else "over"
    print(
        f"median didChange -> publishDiagnostics on a {options.lines}-line file: "
        f"{median:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)"
    )


if __name__ == "__main__":
    main()
