"""Parts of the noio_ws docs generated from the code and the benchmark's data.

Pure functions, no Sphinx: ``noio_ws_docs.py`` (the Sphinx extension) calls them
at build time, and ``tests/test_docs.py`` tests them without Sphinx installed.

- ``state_machine_svg`` and ``transition_table_rst`` draw and tabulate
  ``noio_ws._state.TRANSITIONS`` (no graphviz needed).
- ``benchmark_rst`` renders ``benchmarks/results.json`` (``run.py --json``) and
  ``draw_chart`` runs the committed ``benchmarks/plot.py`` on it.
"""

from __future__ import annotations

import contextlib
import enum
import html
import importlib.util
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

StateT = TypeVar("StateT", bound=enum.Enum)
InputT = TypeVar("InputT", bound=enum.Enum)

# ---------------------------------------------------------------- state machine

# Geometry of the drawing, in SVG user units (pixels).
_CHAR_WIDTH = 7.2  # 12px monospace
_LINE_HEIGHT = 15
_PAD = 10
_COLUMN_GAP = 40
_ROW_GAP = 120
_LANE_GAP = 24
_MARGIN = 12


def _words(member: enum.Enum) -> str:
    return member.name


@dataclass
class _Box:
    """A state, drawn as a box: its name, then the inputs that keep it there."""

    name: str
    loops: list[str]
    rank: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def lines(self) -> list[str]:
        return [self.name, *(f"\u21ba {loop}" for loop in self.loops)]

    @property
    def width(self) -> float:
        return max(len(line) for line in self.lines) * _CHAR_WIDTH + 2 * _PAD

    @property
    def height(self) -> float:
        return len(self.lines) * _LINE_HEIGHT + 2 * _PAD - 2


@dataclass
class _Edge:
    source: str
    target: str
    labels: list[str] = field(default_factory=list)


def _ranks(states: Sequence[str], edges: Iterable[_Edge]) -> dict[str, int]:
    """Longest distance from the first state, so every transition points downwards
    where it can. Bounded by the number of states, so a cycle cannot loop for ever."""
    rank = dict.fromkeys(states, 0)
    reached = {states[0]}
    edge_list = list(edges)
    for _ in states:
        for edge in edge_list:
            if edge.source in reached and rank[edge.target] < rank[edge.source] + 1:
                if rank[edge.source] + 1 < len(states):
                    rank[edge.target] = rank[edge.source] + 1
                reached.add(edge.target)
    return rank


def state_machine_svg(transitions: Mapping[tuple[StateT, InputT], StateT], states: Sequence[StateT]) -> str:
    """An SVG drawing of *transitions*: boxes in rows by distance from ``states[0]``.

    Inputs that leave a state unchanged are listed inside its box (marked with a
    circular arrow); the others are labelled arrows. Arrows between consecutive
    rows are straight; any other arrow runs down a lane beside the drawing.
    """
    boxes = {_words(state): _Box(_words(state), []) for state in states}
    edges: dict[tuple[str, str], _Edge] = {}
    for (state, event), after in transitions.items():
        source, target = _words(state), _words(after)
        if source == target:
            boxes[source].loops.append(_words(event))
        else:
            edges.setdefault((source, target), _Edge(source, target)).labels.append(_words(event))
    names = [_words(state) for state in states]
    for name, rank in _ranks(names, edges.values()).items():
        boxes[name].rank = rank

    # Rows: boxes side by side, in the order of the State enum, each row centred.
    rows: dict[int, list[_Box]] = {}
    for name in names:
        rows.setdefault(boxes[name].rank, []).append(boxes[name])
    row_widths = {
        rank: sum(b.width for b in row) + _COLUMN_GAP * (len(row) - 1) for rank, row in rows.items()
    }
    widest = max(row_widths.values())
    y = 0.0
    for rank in sorted(rows):
        x = (widest - row_widths[rank]) / 2
        for box in rows[rank]:
            box.x, box.y = x, y
            x += box.width + _COLUMN_GAP
        y += max(b.height for b in rows[rank]) + _ROW_GAP
    height = y - _ROW_GAP

    direct = [e for e in edges.values() if boxes[e.target].rank == boxes[e.source].rank + 1]
    laned = [e for e in edges.values() if e not in direct]

    # Where arrows leave and enter boxes: spread along the edge, ordered by the
    # other end's position, so that arrows do not cross at the box.
    def spread(box: _Box, others: list[float]) -> dict[float, float]:
        order = sorted(set(others))
        step = box.width / (len(order) + 1)
        return {other: box.x + step * (i + 1) for i, other in enumerate(order)}

    def centre(box: _Box) -> float:
        return box.x + box.width / 2

    outgoing: dict[str, list[float]] = {}
    incoming: dict[str, list[float]] = {}
    for edge in direct:
        outgoing.setdefault(edge.source, []).append(centre(boxes[edge.target]))
        incoming.setdefault(edge.target, []).append(centre(boxes[edge.source]))
    out_points = {name: spread(boxes[name], xs) for name, xs in outgoing.items()}
    in_points = {name: spread(boxes[name], xs) for name, xs in incoming.items()}

    parts: list[str] = []
    label_parts: list[str] = []

    def label(lines: list[str], x: float, y: float) -> None:
        width = max(len(line) for line in lines) * _CHAR_WIDTH + 8
        h = len(lines) * _LINE_HEIGHT + 4
        label_parts.append(
            f'<rect class="label" x="{x - width / 2:.1f}" y="{y - h / 2:.1f}" '
            f'width="{width:.1f}" height="{h:.1f}"/>'
        )
        for i, line in enumerate(lines):
            ty = y - h / 2 + 2 + _LINE_HEIGHT * (i + 0.8)
            label_parts.append(
                f'<text x="{x:.1f}" y="{ty:.1f}" text-anchor="middle">{html.escape(line)}</text>'
            )

    for edge in direct:
        src, dst = boxes[edge.source], boxes[edge.target]
        x1, y1 = out_points[edge.source][centre(dst)], src.y + src.height
        x2, y2 = in_points[edge.target][centre(src)], dst.y
        parts.append(f'<line class="arrow" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
        label(edge.labels, (x1 + x2) / 2, (y1 + y2) / 2)

    # Lanes: alternately left and right of the drawing, each further out.
    left, right = 0.0, widest
    for i, edge in enumerate(laned):
        src, dst = boxes[edge.source], boxes[edge.target]
        text_width = max(len(line) for line in edge.labels) * _CHAR_WIDTH + 8
        y1, y2 = src.y + min(src.height / 2, 12), dst.y + dst.height / 2
        if i % 2 == 0:
            left -= _LANE_GAP + text_width / 2
            lane, x1, x2 = left, src.x, dst.x
            left -= text_width / 2
        else:
            right += _LANE_GAP + text_width / 2
            lane, x1, x2 = right, src.x + src.width, dst.x + dst.width
            right += text_width / 2
        parts.append(
            f'<polyline class="arrow" points="{x1:.1f},{y1:.1f} {lane:.1f},{y1:.1f} '
            f'{lane:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"/>'
        )
        label(edge.labels, lane, (y1 + y2) / 2)

    for name in names:
        box = boxes[name]
        parts.append(
            f'<rect class="state" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="6"/>'
        )
        for i, line in enumerate(box.lines):
            css = "name" if i == 0 else "loop"
            ty = box.y + _PAD + _LINE_HEIGHT * (i + 0.8)
            parts.append(
                f'<text class="{css}" x="{box.x + _PAD:.1f}" y="{ty:.1f}">{html.escape(line)}</text>'
            )

    x0, x1 = left - _MARGIN, right + _MARGIN
    y0, y1 = -_MARGIN, height + _MARGIN
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="noio-ws-states" role="img" '
            f'viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}" '
            f'width="{x1 - x0:.0f}" style="max-width: 100%; height: auto">',
            "<title>The connection's state machine, drawn from noio_ws._state.TRANSITIONS</title>",
            "<defs><marker id='noio-ws-head' viewBox='0 0 10 10' refX='10' refY='5' "
            "markerWidth='8' markerHeight='8' orient='auto-start-reverse'>"
            "<path d='M 0 0 L 10 5 L 0 10 z' fill='#333'/></marker></defs>",
            "<style>"
            ".noio-ws-states text { font: 12px monospace; fill: #222 }"
            ".noio-ws-states text.name { font-weight: bold }"
            ".noio-ws-states text.loop { fill: #555 }"
            ".noio-ws-states rect.state { fill: #eef4fb; stroke: #36c; stroke-width: 1.5 }"
            ".noio-ws-states rect.label { fill: #fff; stroke: none; opacity: 0.9 }"
            ".noio-ws-states .arrow { fill: none; stroke: #333; stroke-width: 1.2;"
            " marker-end: url(#noio-ws-head) }"
            "</style>",
            *parts,
            *label_parts,
            "</svg>",
        ]
    )


def transition_table_rst(
    transitions: Mapping[tuple[StateT, InputT], StateT], states: Sequence[StateT], inputs: Sequence[InputT]
) -> list[str]:
    """A list-table: one row per input, one column per state, the next state in
    each cell, or a dash where the pair is illegal (absent from the table)."""
    lines = [".. list-table::", "   :header-rows: 1", "   :stub-columns: 1", ""]
    lines.append("   * - input \\\\ state")
    lines.extend(f"     - ``{state.name}``" for state in states)
    for event in inputs:
        lines.append(f"   * - ``{event.name}``")
        for state in states:
            after = transitions.get((state, event))
            lines.append("     - \u2014" if after is None else f"     - {after.name}")
    return lines


# ---------------------------------------------------------------- benchmarks


def _ms(value: float) -> str:
    return f"{value:,.3f}"


def _ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "\u2014"
    return f"**{value:.2f}x**" if value >= 1 else f"{value:.2f}x"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def benchmark_rst(results: Path, chart: str | None = None) -> list[str]:
    """RST for the benchmark results in *results* (``run.py --json``'s file).

    *chart* is the image to show under the table, if one was drawn. Without the
    file, a plain statement that no results are committed.
    """
    if not results.is_file():
        return [
            ".. note::",
            "",
            f"   No benchmark results are committed yet (there is no ``benchmarks/{results.name}``),",
            "   so this page shows no numbers. Run ``python benchmarks/run.py --json",
            f"   benchmarks/{results.name}`` to make them, and rebuild the documentation.",
        ]
    document: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    libraries: dict[str, str] = document["libraries"]
    names = list(libraries)
    others = [name for name in names if name != "noio_ws"]
    versions = ", ".join(f"{name} {version}" for name, version in libraries.items())
    python = (str(document.get("python", "")).split() or ["?"])[0]
    accelerated = document.get("noio_ws_accelerated")
    # The runner records both clocks; "clock" says which one its table used.
    cpu = document.get("clock") == "cpu"
    medians_key, ratios_key = ("cpu_medians_ms", "cpu_ratios") if cpu else ("medians_ms", "ratios")
    clock = "CPU time (``time.thread_time``)" if cpu else "wall-clock time (``time.perf_counter``)"
    lines = [
        f"Run of {str(document.get('date', 'an unknown date'))[:10]}: Python {python} "
        f"({document.get('implementation', 'CPython')}) on {document.get('platform', 'an unknown platform')}, "
        f"{document.get('cpu_count', '?')} CPUs; {versions}. The noio_ws accelerator was "
        f"{'on' if accelerated else 'off'}. Medians of {document.get('repeat', '?')} interleaved "
        f"repetitions, {clock} in milliseconds; the ratio columns are the other library's median "
        "over noio_ws's (above 1, in bold: noio_ws is faster).",
        "",
    ]
    if document.get("mode") != "full":
        lines += [
            ".. warning::",
            "",
            f"   These numbers come from a ``{document.get('mode')}`` run (fewer repetitions and",
            "   messages): they are indicative only.",
            "",
        ]
    lines += [".. list-table::", "   :header-rows: 1", "", "   * - workload"]
    lines += [f"     - {name}" for name in names]
    lines += [f"     - vs {name}" for name in others]
    for row in document["workloads"]:
        lines.append(f"   * - ``{row['name']}``")
        lines.append("")
        lines.append(f"       {_cell(row['description'])}")
        lines += [f"     - {_ms(row[medians_key][name])}" for name in names]
        lines += [f"     - {_ratio(row[ratios_key].get(name))}" for name in others]
    memory = document.get("memory")
    if memory:
        lines += [
            "",
            f"Memory (``{memory['name']}``): {_cell(memory['description'])}; lower is better.",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - library",
            "     - peak MiB",
            "     - peak / message size",
        ]
        for name, mib in memory["peak_mib"].items():
            lines += [
                f"   * - {name}",
                f"     - {mib:.1f}",
                f"     - {memory['ratio_to_message'][name]:.2f}x",
            ]
    lines.append("")
    if chart is not None:
        lines += [f".. image:: {chart}", "   :alt: noio_ws's speed ratios against the other libraries", ""]
    elif importlib.util.find_spec("matplotlib") is None:
        lines += [
            "*The chart is left out: matplotlib is not installed where these pages were built*",
            "*(``pip install 'noio_ws[bench]'`` adds it).*",
        ]
    return lines


def draw_chart(plot_script: Path, results: Path, output: Path) -> bool:
    """Draw the chart of *results* with the committed ``benchmarks/plot.py``.

    False (and nothing drawn) if there are no results or matplotlib is missing.
    """
    if not results.is_file() or not plot_script.is_file() or importlib.util.find_spec("matplotlib") is None:
        return False
    spec = importlib.util.spec_from_file_location("noio_ws_benchmarks_plot", plot_script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output.parent.mkdir(parents=True, exist_ok=True)
    arguments = [str(results), "-o", str(output)]
    if json.loads(results.read_text(encoding="utf-8")).get("clock") == "cpu":
        arguments += ["--clock", "cpu"]  # the clock the table shows
    with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." line
        status = module.main(arguments)
    if status != 0:
        raise RuntimeError(f"{plot_script} exited with status {status}")
    return output.is_file()
