"""The end-to-end uvicorn benchmark's results as RST, for docs/performance.rst.

Rules of this module:

- Pure, no Sphinx: the ``noio-ws-uvicorn-benchmark`` directive in ``noio_ws_docs.py``
  calls ``uvicorn_results_rst`` at build time, and ``tests/test_benchmarks.py`` runs
  it on the file a real (tiny) run wrote.
- It reads ``benchmarks/results-uvicorn.json`` as ``benchmarks/uvicorn_echo.py``
  writes it and shows what is there: no file, no numbers, only a note saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OURS = "noio_ws"
_MET = {True: "met", False: "**not met**", None: "\u2014"}


def _ratio(value: float | None) -> str:
    if value is None:
        return "\u2014"
    return f"**{value:.2f}x**" if value > 1 else f"{value:.2f}x"


def _header(document: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {version}" for name, version in document["versions"].items() if version)
    python = (str(document.get("python", "")).split() or ["?"])[0]
    start, end = (document.get(key) or [float("nan")] for key in ("load_average_start", "load_average"))
    load = f"{start[0]:.1f} at the start, {end[0]:.1f} at the end"
    source = document.get("noio_ws_source") or {}
    if source.get("commit"):
        changed = " with uncommitted changes" if source.get("uncommitted_changes") else ""
        versions += f" (commit {source['commit'][:10]}{changed})"
    lines = [
        f"Run of {str(document['date'])[:10]}: Python {python} on {document['platform']}, "
        f"{document['cpu_count']} CPUs (one-minute load average {load}); {versions}; the noio_ws "
        f"accelerator {'on' if document['noio_ws_accelerated'] else 'off'}, websockets' C speedups "
        f"{'on' if document['websockets_speedups'] else 'off'}. Medians of {document['repeat']} "
        "interleaved repetitions, each after a verified warm-up.",
        "",
    ]
    if document.get("mode") != "full":
        lines += [
            ".. warning::",
            "",
            f"   These numbers come from a ``{document.get('mode')}`` run (fewer messages and",
            "   repetitions): they are indicative only.",
            "",
        ]
    return lines


def _cpu_table(document: dict[str, Any], names: list[str], others: list[str]) -> list[str]:
    lines = [
        "Server CPU time (user + system) per echoed message, or per connection in the handshake",
        "row, in microseconds; the ratio columns are the other backend's median over noio_ws's",
        "(above 1, in bold: noio_ws's server used less CPU).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - row",
        *(f"     - {name} \u00b5s" for name in names),
        *(f"     - vs {name}" for name in others),
        "     - target",
    ]
    for row in document["rows"]:
        lines += [f"   * - ``{row['name']}``", "", f"       {row['description']}"]
        lines += [f"     - {row['server_us_median'][name]:,.1f}" for name in names]
        lines += [f"     - {_ratio(row['ratios'].get(name))}" for name in others]
        lines.append(f"     - {_MET[row['target']['met']]}")
    return [*lines, ""]


def _rate_table(document: dict[str, Any], names: list[str]) -> list[str]:
    lines = [
        "Round trips per second (connections per second in the handshake row), the spread of",
        "the server CPU figures across repetitions ((max - min) / median), and the share of a",
        "core the load generator used (the largest of the backends' medians).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - row",
        *(f"     - {name} per s" for name in names),
        *(f"     - {name} spread" for name in names),
        "     - generator CPU",
    ]
    for row in document["rows"]:
        lines.append(f"   * - ``{row['name']}``")
        lines += [f"     - {row['per_second_median'][name]:,.0f}" for name in names]
        lines += [f"     - {row['spread'][name]:.0%}" for name in names]
        lines.append(f"     - {max(row['client_cpu_share_median'].values()):.0%}")
    return [*lines, ""]


def uvicorn_results_rst(results: Path) -> list[str]:
    """RST for *results* (``uvicorn_echo.py``'s JSON file), or a note that there is none."""
    if not results.is_file():
        return [
            ".. note::",
            "",
            f"   No end-to-end results are committed yet (there is no ``benchmarks/{results.name}``).",
            "   Run ``python benchmarks/uvicorn_echo.py`` to make them, and rebuild the documentation.",
            "",
        ]
    document: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    names = list(document["backends"])
    others = [name for name in names if name != OURS] if OURS in names else []
    return [*_header(document), *_cpu_table(document, names, others), *_rate_table(document, names)]
