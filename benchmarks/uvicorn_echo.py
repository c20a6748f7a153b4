"""End-to-end benchmark: one ASGI echo app under uvicorn, with three WebSocket backends.

Rules of this module (the method; benchmarks/README.rst says how to run and read it):

- Servers: ``uvicorn_echo_app:app`` (beside this file) served by uvicorn's own command
  line, one process per backend, all alike but for ``--ws``: asyncio loop, h11, no
  access log, no lifespan, loopback, uvicorn's defaults for everything else. The
  backends are uvicorn's ``wsproto`` and ``websockets-sansio`` and noio_ws's
  ``NoioWSProtocol``.
- Load: noio_ws clients from ``uvicorn_echo_io`` on one asyncio loop in this process
  (never a server's), masking every frame and checking every echo; a wrong echo stops
  the run. A server that logs a traceback or an error stops it too.
- The figure is the server process's CPU time (user + system, from /proc to the
  nanosecond, or psutil) read just before and just after the timed part, divided by
  the messages echoed in it: it leaves out the client, whatever the client costs.
  Round trips per second (wall clock) and the generator's own CPU are recorded too.
- Connections are opened before the timed part and closed after it. The handshake row
  times the whole life of a connection instead: connect, opening handshake, close
  handshake, the server's close of TCP. Its server-side tail (the app seeing the
  disconnect) can end after the client's last EOF, so its CPU is read a moment later.
- Interleaved repetitions: every row runs once per backend untimed (a warm-up), then
  the backends take turns, the starting one rotating, each repetition doing the same
  work. Medians per backend; ratios divide medians, other / noio_ws, so above 1 means
  noio_ws's server used less CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import fnmatch
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import uvicorn_echo_io as loadgen

RESULTS = Path(__file__).resolve().parent / "results-uvicorn.json"
OURS = "noio_ws"
#: Backend name -> (the value of uvicorn's --ws option, the distribution it comes from).
BACKENDS = {
    "wsproto": ("wsproto", "wsproto"),
    "websockets-sansio": ("websockets-sansio", "websockets"),
    OURS: ("noio_ws.integrations.uvicorn:NoioWSProtocol", "noio_ws"),
}
KiB = 1 << 10
SETTLE = 0.05  # seconds the handshake row waits for the server's last disconnects


@dataclass(frozen=True)
class Row:
    """One line of the table: a message size and type with a number of connections,
    or the handshake row. ``count`` is messages per connection (handshakes in all)."""

    name: str
    kind: Literal["echo", "handshake"]
    size: int
    text: bool
    connections: int
    count: int

    @property
    def total(self) -> int:
        return self.count if self.kind == "handshake" else self.count * self.connections

    @property
    def description(self) -> str:
        if self.kind == "handshake":
            return f"{self.total:,} connections, {self.connections} at a time: open, close, disconnect"
        size = f"{self.size // KiB} KiB" if self.size >= KiB else f"{self.size} B"
        return f"{size} {'text' if self.text else 'binary'}, {self.connections} x {self.count:,} round trips"


@dataclass(frozen=True)
class Scale:
    """How much work a run does; message sizes never change."""

    name: str
    repeat: int
    counts: dict[str, int]  # row name -> Row.count
    idle_seconds: float


def rows(scale: Scale) -> list[Row]:
    """Every row of the benchmark, in table order."""
    shapes = [("text_16B", 16, True), ("binary_4KiB", 4 * KiB, False), ("binary_256KiB", 256 * KiB, False)]
    table = [
        Row(f"{name}_x{connections}", "echo", size, text, connections, scale.counts[f"{name}_x{connections}"])
        for name, size, text in shapes
        for connections in (1, 32)
    ]
    return [*table, Row("handshake", "handshake", 0, False, 8, scale.counts["handshake"])]


# Many short samples interleave finely: each holds a few tenths of a second of server CPU.
FULL = Scale(
    "full",
    repeat=15,
    counts={
        "text_16B_x1": 10_000,
        "text_16B_x32": 375,
        "binary_4KiB_x1": 10_000,
        "binary_4KiB_x32": 325,
        "binary_256KiB_x1": 2_000,
        "binary_256KiB_x32": 60,
        "handshake": 800,
    },
    idle_seconds=3.0,
)
QUICK = Scale(
    "quick",
    repeat=5,
    counts={name: max(count // 4, 1) for name, count in FULL.counts.items()},
    idle_seconds=1.0,
)


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Sample:
    """One repetition of one row on one backend."""

    server_cpu: float  # seconds
    client_cpu: float  # seconds, this process
    wall: float  # seconds
    count: int  # messages echoed, or connections opened and closed


async def measure(row: Row, server: loadgen.Server, work: list[list[loadgen.Message]]) -> Sample:
    """Run *row* once against *server*; verified by the load generator."""
    address = server.address
    clients = await loadgen.open_clients(address, row.connections) if row.kind == "echo" else []
    gc.collect()
    server_before, client_before = loadgen.cpu_seconds(server.pid), time.process_time()
    start = time.perf_counter()
    if row.kind == "echo":
        count = await loadgen.echo(clients, work)
    else:
        count = await loadgen.handshakes(address, row.count, row.connections)
    wall = time.perf_counter() - start
    client_cpu = time.process_time() - client_before
    if row.kind == "handshake":
        await asyncio.sleep(SETTLE)
    server_cpu = loadgen.cpu_seconds(server.pid) - server_before
    await loadgen.close_clients(clients)
    return Sample(server_cpu, client_cpu, wall, count)


async def run_rows(
    selected: Sequence[Row], servers: dict[str, loadgen.Server], repeat: int
) -> dict[str, dict[str, list[Sample]]]:
    """Every row: a warm-up per backend, then *repeat* interleaved repetitions."""
    samples: dict[str, dict[str, list[Sample]]] = {}
    names = list(servers)
    for row in selected:
        work = (
            loadgen.workload(row.name, row.size, row.text, row.connections, row.count)
            if row.kind == "echo"
            else []
        )
        for name in names:
            await measure(row, servers[name], work)
        taken: dict[str, list[Sample]] = {name: [] for name in names}
        for turn in range(repeat):
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                taken[name].append(await measure(row, servers[name], work))
            print(f"  {row.name}: repetition {turn + 1}/{repeat}", file=sys.stderr, flush=True)
        samples[row.name] = taken
    return samples


# ---------------------------------------------------------------- results


def target_of(row: Row, ratios: dict[str, float]) -> dict[str, Any]:
    """The issue's target for *row*: less server CPU than every other backend, and at
    256 KiB at most half of wsproto's. None when a backend is missing."""
    rule = "less server CPU than every other backend"
    needed = {name: 1.0 for name in BACKENDS if name != OURS}
    if row.size == 256 * KiB:
        rule += "; at most half of wsproto's"
        needed["wsproto"] = 2.0
    if set(ratios) != set(needed):
        return {"rule": rule, "met": None}
    met = all(ratios[name] > 1.0 if need == 1.0 else ratios[name] >= need for name, need in needed.items())
    return {"rule": rule, "met": met}


def summarize(row: Row, taken: dict[str, list[Sample]]) -> dict[str, Any]:
    """The JSON entry of one row: every sample, medians, spreads, ratios, target."""
    per = {name: [s.server_cpu / s.count * 1e6 for s in samples] for name, samples in taken.items()}
    server_us = {name: statistics.median(values) for name, values in per.items()}
    ours = server_us.get(OURS) or None  # zero: too little work to measure (tiny runs)
    # Rounded: the same number of clock ticks must compare equal, not 1.000000000000004.
    ratios = {name: round(server_us[name] / ours, 4) for name in per if name != OURS and ours}
    return {
        "name": row.name,
        "description": row.description,
        "kind": row.kind,
        "payload_bytes": row.size,
        "payload_type": "text" if row.text else "binary",
        "connections": row.connections,
        "count": row.total,
        "server_us": per,
        "server_us_median": server_us,
        "spread": {name: (max(v) - min(v)) / (statistics.median(v) or 1) for name, v in per.items()},
        "per_second_median": {
            name: statistics.median(s.count / s.wall for s in samples) for name, samples in taken.items()
        },
        "client_us_median": {
            name: statistics.median(s.client_cpu / s.count * 1e6 for s in samples)
            for name, samples in taken.items()
        },
        "client_cpu_share_median": {
            name: statistics.median(s.client_cpu / s.wall for s in samples) for name, samples in taken.items()
        },
        "samples": {name: [vars(s) for s in samples] for name, samples in taken.items()},
        "ratios": ratios,
        "target": target_of(row, ratios),
    }


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(scale: Scale, repeat: int, names: Sequence[str]) -> dict[str, Any]:
    """Where and how the numbers were taken, for the JSON file."""
    versions = {name: _version(name) for name in ("uvicorn", "h11", "wsproto", "websockets", "noio_ws")}
    frame_module = importlib.import_module("noio_ws._mask")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "mode": scale.name,
        "counts": scale.counts,
        "repeat": repeat,
        "method": "one uvicorn process per backend (" + " ".join(loadgen.UVICORN_OPTIONS) + "); noio_ws "
        "clients on one asyncio loop in the benchmark's process, every frame masked and every echo "
        "compared; server CPU (user+system) read before and after each timed part; one verified "
        "warm-up per row and backend, then interleaved rotating repetitions; medians",
        "backends": {name: {"ws": BACKENDS[name][0], "library": BACKENDS[name][1]} for name in names},
        "versions": versions,
        "noio_ws_source": loadgen.noio_ws_source(),
        "noio_ws_accelerated": getattr(frame_module, "ACCELERATED", None),
        "websockets_speedups": importlib.util.find_spec("websockets.speedups") is not None
        if versions["websockets"]
        else None,
        "units": "server_us, client_us_median: CPU microseconds per message (per connection in the "
        "handshake row); per_second_median: round trips (connections) per wall-clock second; see "
        "benchmarks/README.rst",
    }


def table_lines(document: dict[str, Any]) -> list[str]:
    """The terminal table of a results document."""
    names = list(document["backends"])
    others = [name for name in names if name != OURS and OURS in names]
    short = {"websockets-sansio": "wss", "wsproto": "wsproto", OURS: OURS}
    columns = [f"{'row':<18}", *(f"{short[name] + ' us':>11}" for name in names)]
    columns += [f"{'vs ' + short[name]:>11}" for name in others]
    columns += [f"{short[name] + ' /s':>11}" for name in names]
    columns += [f"{'spread':>7}", f"{'client':>7}", " target"]
    lines = [" ".join(columns)]
    for row in document["rows"]:
        cells = [f"{row['name']:<18}", *(f"{row['server_us_median'][name]:>11.1f}" for name in names)]
        cells += [
            f"{row['ratios'][name]:>10.2f}x" if name in row["ratios"] else f"{'-':>11}" for name in others
        ]
        cells += [f"{row['per_second_median'][name]:>11,.0f}" for name in names]
        cells += [
            f"{max(row['spread'].values()):>6.0%}",
            f"{max(row['client_cpu_share_median'].values()):>6.0%}",
        ]
        met = row["target"]["met"]
        cells.append(" " + {True: "met", False: "NOT met", None: "-"}[met])
        lines.append(" ".join(cells))
    return lines


def header_lines(document: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {version}" for name, version in document["versions"].items() if version)
    idle = ", ".join(f"{name} {ms:.2f}" for name, ms in document["idle_server_cpu_ms_per_s"].items())
    lines = [
        f"Python {platform.python_version()} on {document['platform']}, {document['cpu_count']} CPUs; {versions}",
        f"noio_ws accelerator {'on' if document['noio_ws_accelerated'] else 'off'}; websockets C "
        f"speedups {'on' if document['websockets_speedups'] else 'off'}; uvicorn {' '.join(loadgen.UVICORN_OPTIONS)}",
        f"median of {document['repeat']} interleaved repetitions; us = server CPU per message "
        "(per connection: handshake); vs = other / noio_ws (above 1: noio_ws used less CPU);",
        "/s = round trips (handshake: connections) per second; spread = worst (max - min) / median; "
        "client = the generator's CPU share of a core (worst)",
        f"idle server CPU, ms per s: {idle}; load average {document['load_average']}",
    ]
    if document["mode"] != "full":
        lines.append(f"{document['mode'].upper()} RUN: fewer messages and repetitions, indicative only")
    return lines


# ---------------------------------------------------------------- command line


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and repetitions")
    parser.add_argument("--repeat", type=int, help="timed repetitions per row and backend")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset")
    parser.add_argument("--only", help="comma-separated row names or shell-style patterns")
    parser.add_argument("--json", type=Path, help=f"results file (a full run: {RESULTS.name} by default)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    return parser.parse_args(argv)


def select(all_rows: Sequence[Row], only: str | None) -> list[Row]:
    if not only:
        return list(all_rows)
    patterns = [pattern.strip() for pattern in only.split(",") if pattern.strip()]
    chosen = [row for row in all_rows if any(fnmatch.fnmatch(row.name, p) or p in row.name for p in patterns)]
    if not chosen:
        raise SystemExit(f"no row matches {only!r}; --list shows them")
    return chosen


def main(argv: Sequence[str] | None = None, scale: Scale | None = None) -> int:
    arguments = parse_arguments(argv)
    scale = scale or (QUICK if arguments.quick else FULL)
    selected = select(rows(scale), arguments.only)
    if arguments.list:
        print("\n".join(f"{row.name:<18} {row.description}" for row in selected))
        return 0
    names = [name.strip() for name in arguments.backends.split(",") if name.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown or not names:
        raise SystemExit(f"unknown backends {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    repeat = arguments.repeat or scale.repeat
    json_path = arguments.json or (RESULTS if scale is FULL else None)
    document = environment(scale, repeat, names)
    servers: dict[str, loadgen.Server] = {}
    try:
        for name in names:
            servers[name] = loadgen.Server(name, BACKENDS[name][0])
        for server in servers.values():
            server.wait_ready()
        document["load_average_start"] = os.getloadavg()
        document["idle_server_cpu_ms_per_s"] = loadgen.idle_cpu(list(servers.values()), scale.idle_seconds)
        samples = asyncio.run(run_rows(selected, servers, repeat))
        document["load_average"] = os.getloadavg()
        for server in servers.values():
            server.check_log()
    finally:
        for server in servers.values():
            server.stop()
    document["rows"] = [summarize(row, samples[row.name]) for row in selected]
    print("\n".join([*header_lines(document), "", *table_lines(document)]))
    if json_path is not None:
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
