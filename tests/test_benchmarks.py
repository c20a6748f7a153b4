"""The benchmark runner (benchmarks/run.py): every workload runs and is verified, and
verification catches a library that returns a wrong result or skips work.

Nothing here is timed against a target: the numbers belong to the benchmark itself.
Competitors that are not installed (wsproto is not in the tests extra) are left out.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import noio_ws
from noio_ws.handshake import ServerHandshake

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"noio_ws_benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load("run")

#: Few messages; the message sizes are those of the real runs.
TINY = bench.Scale(
    "tiny",
    small=40,
    bytewise=6,
    echo=20,
    json=20,
    count_64KiB=2,
    count_1MiB=1,
    count_16MiB=1,
    memory_size=1 << 20,
)
LIBRARIES: list[Any] = list(bench.available_libraries().values())
WORKLOADS = {workload.name: workload for workload in bench.workloads(TINY)}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_workload_runs_and_verifies(name: str) -> None:
    prepared = bench.prepare(WORKLOADS[name])
    for library in LIBRARIES:
        wall, cpu = bench.run_once(prepared, library)
        assert wall > 0
        assert cpu >= 0


def test_workload_names_are_stable() -> None:
    for scale in (bench.FULL, bench.QUICK):
        assert [workload.name for workload in bench.workloads(scale)] == list(WORKLOADS)
    assert {
        "recv_text_16B_whole",
        "recv_text_128B_bytewise",
        "recv_binary_16MiB_chunked",
        "recv_fragmented_1MiB",
        "send_client_binary_1MiB",
        "deflate_send_text_1MiB",
        "echo_text_16B",
    } <= set(WORKLOADS)


def test_inputs_are_what_the_descriptions_say() -> None:
    texts = bench.text_messages(3, 128)
    assert [len(text.encode()) for text in texts] == [128] * 3
    assert len(set(texts)) == 3
    assert all("€" in text for text in texts)
    sizes = [len(message) for message in bench.json_messages(200)]
    assert 150 < sum(sizes) / len(sizes) < 250
    (document,) = bench.json_document(1 << 20)
    assert len(document) == 1 << 20
    assert json.loads(document)


@pytest.mark.parametrize("deflate", [False, True])
@pytest.mark.parametrize("fragments", [1, 3])
def test_reference_codec_round_trips(deflate: bool, fragments: int) -> None:
    messages = ["", "x", "é" * 200, b"\x00" * 70_000, b"", "last"]
    wire = bench.client_wire(messages, fragments=fragments, deflate=deflate)
    assert bench.decode_wire(wire, masked=True, deflate=deflate) == messages


# Wrong results: each must fail verification.
Mutation = Callable[[list[Any]], list[Any]]
MUTATIONS: dict[str, Mutation] = {
    "drop last": lambda m: m[:-1],
    "drop one in the middle": lambda m: m[:5] + m[6:],
    "one extra": lambda m: [*m, m[-1]],
    "swap two": lambda m: [m[1], m[0], *m[2:]],
    "one character changed": lambda m: [*m[:7], m[7][:-1] + "?", *m[8:]],
    "bytes instead of text": lambda m: [x.encode() for x in m],
    "first replaced": lambda m: ["", *m[1:]],
    "not a message": lambda m: [*m[:-1], None],
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_check_catches_a_wrong_result(mutation: str) -> None:
    messages = bench.text_messages(20, 16)
    bench.check(bench.summarize(messages), list(messages))
    with pytest.raises(bench.VerificationError):
        bench.check(bench.summarize(messages), MUTATIONS[mutation](list(messages)))


class Lazy:
    """A library that skips work: right count and ends, the middle made up."""

    def __init__(self, *, client: bool, deflate: bool) -> None:
        self.client = client

    def receive(self, chunks: Sequence[bytes]) -> list[object]:
        messages = bench.decode_wire(b"".join(chunks), masked=True, deflate=False)
        return [messages[0], *[messages[0]] * (len(messages) - 2), messages[-1]]

    def send(self, messages: Sequence[object]) -> list[bytes]:
        # Unmasked even as a client, and the same frame for every message.
        frame = bench.encode_frame(1, str(messages[0]).encode(), fin=True, rsv1=False, mask_key=None)
        return [frame] * len(messages)

    def echo(self, server: object, messages: Sequence[str]) -> list[str]:
        return list(messages[:-1])


@pytest.mark.parametrize(
    "name", ["recv_text_16B_4KiB", "send_server_text_16B", "send_client_text_16B", "echo_text_16B"]
)
def test_run_once_catches_a_library_that_skips_work(name: str) -> None:
    prepared = bench.prepare(WORKLOADS[name])
    with pytest.raises(bench.VerificationError, match=f"^lazy, {name}: "):
        bench.run_once(prepared, bench.Library("lazy", "0", Lazy))


def test_send_verification_requires_masking_and_compression() -> None:
    masked = bench.client_wire(["hello"])
    compressed = bench.client_wire(["hello"], deflate=True)
    with pytest.raises(bench.VerificationError, match="masked"):
        bench.decode_wire(masked, masked=False, deflate=False)
    with pytest.raises(bench.VerificationError, match="uncompressed"):
        bench.decode_wire(masked, masked=True, deflate=True)
    assert bench.decode_wire(compressed, masked=True, deflate=True) == ["hello"]
    with pytest.raises(bench.VerificationError, match="truncated"):
        bench.decode_wire(masked[:-1], masked=True, deflate=False)


def test_memory_row_counts_the_received_message() -> None:
    memory = bench.measure_memory(LIBRARIES, 1 << 20)
    for library in LIBRARIES:
        assert memory.peak_bytes[library.name] >= 1 << 20


def test_ratios_are_other_over_noio_ws() -> None:
    assert bench.ratios_of({"noio_ws": 2.0, "wsproto": 6.0, "websockets": 1.0}) == {
        "wsproto": 3.0,
        "websockets": 0.5,
    }


def test_cli_writes_the_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.json"
    argv = ["--only", "recv_text_16B_whole,echo*,memory", "--repeat", "2", "--json", str(path)]
    assert bench.main(argv, scale=TINY) == 0
    out = capsys.readouterr().out
    assert "recv_text_16B_whole" in out
    assert "echo_text_16B" in out
    assert "memory_recv_16MiB" in out
    assert "recv_text_16B_4KiB" not in out
    document = json.loads(path.read_text())
    assert {"date", "python", "platform", "machine", "libraries", "repeat", "workloads", "memory"} <= set(
        document
    )
    (row, echo) = document["workloads"]
    assert row["name"] == "recv_text_16B_whole"
    assert echo["name"] == "echo_text_16B"
    assert document["clock"] == "wall"
    for library in LIBRARIES:
        assert len(row["timings"][library.name]) == 2
        assert len(row["cpu_timings"][library.name]) == 2
        assert row["medians_ms"][library.name] > 0
    others = {library.name for library in LIBRARIES} - {"noio_ws"}
    assert set(row["ratios"]) == set(row["cpu_ratios"]) == others
    assert set(document["memory"]["peak_mib"]) == {library.name for library in LIBRARIES}


def test_cli_rejects_a_pattern_that_matches_nothing() -> None:
    with pytest.raises(SystemExit, match="no workload matches"):
        bench.main(["--only", "no-such-workload"], scale=TINY)


def test_plot_draws_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = _load("plot")
    results = tmp_path / "results.json"
    argv = [
        "--only",
        "send_server_text_16B,memory",
        "--repeat",
        "1",
        "--clock",
        "cpu",
        "--json",
        str(results),
    ]
    bench.main(argv, scale=TINY)
    assert plot.main([str(results), "-o", str(tmp_path / "chart.png"), "--clock", "cpu"]) == 0
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------- the end-to-end uvicorn benchmark

uvicorn_io = _load("uvicorn_echo_io")
sys.modules["uvicorn_echo_io"] = uvicorn_io  # uvicorn_echo.py imports its helper by this name
uvicorn_echo = _load("uvicorn_echo")
_results_spec = importlib.util.spec_from_file_location(
    "noio_ws_uvicorn_results", ROOT / "docs" / "_ext" / "noio_ws_uvicorn_results.py"
)
assert _results_spec is not None
assert _results_spec.loader is not None
uvicorn_results = importlib.util.module_from_spec(_results_spec)
_results_spec.loader.exec_module(uvicorn_results)

#: A handful of messages per row; the sizes and connection counts are the real ones.
UVICORN_TINY = uvicorn_echo.Scale(
    "tiny", repeat=1, counts=dict.fromkeys(uvicorn_echo.FULL.counts, 3), idle_seconds=0.1
)


def test_uvicorn_echo_runs_every_row_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real run, tiny: two uvicorn servers (ours and websockets-sansio; wsproto is not
    in the tests extra), every row, every echo verified by the load generator."""
    pytest.importorskip("uvicorn")
    pytest.importorskip("noio_ws.integrations.uvicorn")
    path = tmp_path / "results-uvicorn.json"
    argv = ["--backends", "noio_ws,websockets-sansio", "--json", str(path)]
    assert uvicorn_echo.main(argv, scale=UVICORN_TINY) == 0
    document = json.loads(path.read_text())
    names = [row.name for row in uvicorn_echo.rows(UVICORN_TINY)]
    assert [row["name"] for row in document["rows"]] == names
    for row in document["rows"]:
        for backend in ("noio_ws", "websockets-sansio"):
            (sample,) = row["samples"][backend]
            assert sample["count"] == row["count"]  # every message came back, checked
            assert sample["wall"] > 0
            assert sample["server_cpu"] >= 0
        assert set(row["ratios"]) <= {"websockets-sansio"}  # none where ours measured 0 ticks
        assert row["target"]["met"] is None  # wsproto's column is missing
    assert document["rows"][1]["count"] == 32 * 3
    assert "text_16B_x32" in capsys.readouterr().out
    page = "\n".join(uvicorn_results.uvicorn_results_rst(path))
    assert all(f"``{name}``" in page for name in names)
    assert "``tiny`` run" in page


def test_uvicorn_results_page_without_results(tmp_path: Path) -> None:
    page = "\n".join(uvicorn_results.uvicorn_results_rst(tmp_path / "results-uvicorn.json"))
    assert "No end-to-end results are committed yet" in page


@pytest.mark.parametrize(
    ("size", "ratios", "met"),
    [
        (16, {"wsproto": 1.5, "websockets-sansio": 1.01}, True),
        (16, {"wsproto": 1.5, "websockets-sansio": 0.99}, False),
        (16, {"wsproto": 1.5}, None),
        (256 << 10, {"wsproto": 2.0, "websockets-sansio": 1.2}, True),
        (256 << 10, {"wsproto": 1.9, "websockets-sansio": 1.2}, False),
    ],
)
def test_uvicorn_target(size: int, ratios: dict[str, float], met: bool | None) -> None:
    row = uvicorn_echo.Row("row", "echo", size, False, 1, 1)
    assert uvicorn_echo.target_of(row, ratios)["met"] is met


class _Wire(asyncio.Transport):
    """A transport that keeps what the client writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data


SENT = [noio_ws.TextMessage("first é"), noio_ws.TextMessage("second é")]
#: What a server answers to the second message; only "right" is correct.
ANSWERS: dict[str, list[noio_ws.Event]] = {
    "right": [SENT[1]],
    "stale": [SENT[0]],
    "one character changed": [noio_ws.TextMessage("second e")],
    "bytes instead of text": [noio_ws.BinaryMessage("second é".encode())],
    "one extra": [SENT[1], SENT[1]],
    "closed by the server": [noio_ws.Close(1011)],
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_uvicorn_load_generator_rejects_a_wrong_echo(answer: str) -> None:
    async def scenario() -> tuple[asyncio.Future[None], asyncio.Future[None], _Wire]:
        client = uvicorn_io.EchoClient(uvicorn_io.Address("127.0.0.1", 9))
        wire = _Wire()
        client.connection_made(wire)
        server = ServerHandshake()
        assert server.receive_data(wire.take()) is not None
        accept, connection = server.accept()
        client.data_received(accept)
        finished = client.start(SENT)
        steps: list[tuple[noio_ws.Event, list[noio_ws.Event]]] = [
            (SENT[0], [SENT[0]]),
            (SENT[1], ANSWERS[answer]),
        ]
        for expected, replies in steps:
            connection.receive_data(wire.take())
            assert list(connection.events()) == [expected]  # masked, and what was meant
            client.data_received(b"".join(connection.send(reply) for reply in replies))
        return finished, client.closed, wire

    finished, closed, wire = asyncio.run(scenario())
    if answer == "right":
        assert finished.result() is None
        assert not closed.done()
        assert not wire.aborted
        return
    failed = finished if answer != "one extra" else closed  # the batch was over
    assert isinstance(failed.exception(), uvicorn_io.VerificationError)
    assert wire.aborted
