"""Chart a benchmark result: ``python benchmarks/plot.py results.json [-o chart.png]``.

Reads the JSON that ``benchmarks/run.py --json`` writes and draws, for every
workload (wall clock, or CPU time with ``--clock cpu``), how many times faster noio_ws is than each other library (their median
over noio_ws's; the bar passes the line at 1 when noio_ws is faster), on a
logarithmic axis, plus the memory row when there is one. Needs matplotlib
(``pip install 'noio_ws[bench]'``); without it, says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLORS = {"wsproto": "#4c72b0", "websockets": "#dd8452"}


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    if "workloads" not in document:
        raise SystemExit(f"{path}: not a benchmarks/run.py --json file")
    return document


def ratio_series(document: dict[str, Any], clock: str) -> tuple[list[str], dict[str, list[float]]]:
    """Workload names (table order) and, per other library, noio_ws's speed ratio."""
    key = "cpu_ratios" if clock == "cpu" else "ratios"
    rows = [row for row in document["workloads"] if row[key]]
    others = [name for name in document["libraries"] if name != "noio_ws"]
    series = {other: [row[key].get(other, float("nan")) for row in rows] for other in others}
    return [row["name"] for row in rows], series


def title(document: dict[str, Any], clock: str) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in document["libraries"].items())
    python = document["python"].split()[0]
    accelerator = "on" if document.get("noio_ws_accelerated") else "off"
    return (
        f"noio_ws speed relative to other sans-io cores (above 1: noio_ws faster)\n"
        f"{versions}; Python {python}; accelerator {accelerator}; "
        f"{document['mode']} run, median of {document['repeat']} ({clock} clock); {document['date'][:10]}"
    )


def draw(document: dict[str, Any], output: Path, clock: str = "wall") -> None:
    import matplotlib  # noqa: PLC0415 - optional dependency, imported only when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    names, series = ratio_series(document, clock)
    memory = document.get("memory")
    rows = len(names) + (len(memory["ratio_to_message"]) + 2 if memory else 0)
    figure, axes = plt.subplots(
        2 if memory else 1,
        1,
        figsize=(10, 1.2 + 0.32 * rows),
        squeeze=False,
        height_ratios=[len(names), len(memory["ratio_to_message"]) + 1] if memory else None,
    )
    ratios_axis = axes[0][0]
    height = 0.8 / max(len(series), 1)
    positions = list(range(len(names)))
    for index, (other, values) in enumerate(series.items()):
        offsets = [p + (index - (len(series) - 1) / 2) * height for p in positions]
        bars = ratios_axis.barh(offsets, values, height=height, label=f"vs {other}", color=COLORS.get(other))
        ratios_axis.bar_label(bars, labels=[f"{v:.2f}x" for v in values], fontsize=7, padding=2)
    ratios_axis.axvline(1.0, color="black", linewidth=0.8)
    ratios_axis.set_xscale("log")
    finite = [v for values in series.values() for v in values if math.isfinite(v) and v > 0]
    ratios_axis.set_xlim(min(*finite, 1.0) / 1.3, max(*finite, 1.0) * 1.8)  # room for the labels
    ratios_axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
    ratios_axis.set_yticks(positions, names, fontsize=8)
    ratios_axis.invert_yaxis()
    ratios_axis.set_xlabel("other library's median time / noio_ws's (log scale)")
    ratios_axis.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ratios_axis.set_title(title(document, clock), fontsize=9)
    if memory:
        _draw_memory(axes[1][0], memory)
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)


def _draw_memory(axis: Any, memory: dict[str, Any]) -> None:
    libraries = list(memory["ratio_to_message"])
    values = [memory["ratio_to_message"][name] for name in libraries]
    bars = axis.barh(libraries, values, color=["#55a868", *(COLORS.get(n, "grey") for n in libraries[1:])])
    axis.bar_label(bars, labels=[f"{v:.2f}x" for v in values], fontsize=7, padding=2)
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.invert_yaxis()
    axis.set_xlabel(
        f"peak traced memory / message size ({memory['message_bytes'] >> 20} MiB; lower is better)"
    )
    axis.tick_params(labelsize=8)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chart a benchmarks/run.py --json result as a PNG.")
    parser.add_argument("results", type=Path, help="the JSON written by run.py --json")
    parser.add_argument("-o", "--output", type=Path, help="the PNG to write (default: beside the JSON)")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall-clock (default) or CPU-time ratios"
    )
    args = parser.parse_args(argv)
    output = args.output or args.results.with_suffix(".png")
    document = load(args.results)
    if importlib.util.find_spec("matplotlib") is None:
        print(
            "plot.py needs matplotlib, which is not installed: pip install 'noio_ws[bench]' "
            "(or pip install matplotlib). The numbers are in the JSON file.",
            file=sys.stderr,
        )
        return 2
    draw(document, output, args.clock)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
