"""The benchmark runner (benchmarks/run.py): every workload runs and is verified, and
verification catches a library that returns a wrong result or skips work.

Nothing here is timed against a target: the numbers belong to the benchmark itself.
Competitors that are not installed (wsproto is not in the tests extra) are left out.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
