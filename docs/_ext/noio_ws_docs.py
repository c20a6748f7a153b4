"""Sphinx extension: the parts of the noio_ws docs built from the code and data.

``.. noio-ws-state-machine::``
    Draws ``noio_ws._state.TRANSITIONS`` as an inline SVG (no graphviz needed) and
    renders it as a table of every state and input. The layout is computed from
    the table, so a change to the state machine changes the picture.

``.. noio-ws-benchmarks:: [results file]``
    Renders the latest ``benchmarks/results.json`` (or the file given, written by
    ``python benchmarks/run.py --json``) as a table of ratios, and a chart drawn
    by ``benchmarks/plot.py`` when matplotlib is installed. Without results it
    says so: no made-up numbers.

``.. noio-ws-uvicorn-benchmark:: [results file]``
    Renders ``benchmarks/results-uvicorn.json`` (or the file given), written by
    ``python benchmarks/uvicorn_echo.py``: the end-to-end tables, built by
    ``noio_ws_uvicorn_results.py``.

It also adjusts autodoc's output for noio_ws's docstrings (see the handlers).
The generators themselves are in ``noio_ws_docgen.py``.
"""

from __future__ import annotations

import enum
import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from docutils.statemachine import StringList
from noio_ws_docgen import benchmark_rst, draw_chart, state_machine_svg, transition_table_rst
from noio_ws_uvicorn_results import uvicorn_results_rst
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from noio_ws import _state

if TYPE_CHECKING:
    from sphinx.util.typing import ExtensionMetadata  # Sphinx 7.3 and later


class StateMachineDirective(SphinxDirective):
    """``.. noio-ws-state-machine::``: the picture and the table, from the code."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(_state.__file__)
        svg = state_machine_svg(_state.TRANSITIONS, list(_state.State))
        figure = nodes.container(classes=["noio-ws-state-machine"])
        figure += nodes.raw("", svg, format="html")
        table = nodes.container()
        lines = transition_table_rst(_state.TRANSITIONS, list(_state.State), list(_state.Input))
        self.state.nested_parse(StringList(lines, source="noio_ws._state.TRANSITIONS"), 0, table)
        return [figure, *table.children]


class BenchmarksDirective(SphinxDirective):
    """``.. noio-ws-benchmarks:: [results file]``: the latest results, or a note that there are none.

    The file is relative to the docs directory; by default the
    ``noio_ws_benchmark_results`` setting.
    """

    has_content = False
    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        srcdir = Path(self.env.srcdir)  # conf.py's directory too
        name = self.arguments[0] if self.arguments else self.config.noio_ws_benchmark_results
        results = (srcdir / name).resolve()
        plot_script = (srcdir / self.config.noio_ws_benchmark_plot).resolve()
        # Re-read this page whenever the results or the script change (or appear).
        self.env.note_dependency(str(results))
        self.env.note_dependency(str(plot_script))
        chart = None
        output = srcdir / "_generated" / f"{results.stem}.png"
        if draw_chart(plot_script, results, output):
            chart = f"/_generated/{results.stem}.png"
        container = nodes.container(classes=["noio-ws-benchmarks"])
        source = str(results)
        self.state.nested_parse(StringList(benchmark_rst(results, chart), source=source), 0, container)
        return list(container.children)


class UvicornBenchmarkDirective(SphinxDirective):
    """``.. noio-ws-uvicorn-benchmark:: [results file]``: the end-to-end results, or a note.

    The file is relative to the docs directory; by default
    ``../benchmarks/results-uvicorn.json``.
    """

    has_content = False
    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0] if self.arguments else "../benchmarks/results-uvicorn.json"
        results = (Path(self.env.srcdir) / name).resolve()
        self.env.note_dependency(str(results))  # re-read when the results change or appear
        container = nodes.container(classes=["noio-ws-uvicorn-benchmark"])
        self.state.nested_parse(StringList(uvicorn_results_rst(results), source=str(results)), 0, container)
        return list(container.children)


# ---------------------------------------------------------------- autodoc


def restore_inline_colon(  # noqa: PLR0917 - the signature of Sphinx's event
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Undo napoleon's reading of "Words: more words" as "type: description".

    On attributes and properties, napoleon takes the text before the first colon
    of the first line for a type. noio_ws's docstrings are prose and never use
    that form, so the ``:type:`` napoleon made is put back into the sentence.
    Runs after napoleon (priority 600).
    """
    if what not in ("attribute", "property", "data"):
        return
    for index, line in enumerate(lines):
        if line.startswith(":type: "):
            kind = line[len(":type: ") :]
            del lines[index]
            if index and not lines[index - 1].strip():
                del lines[index - 1]
            first = next((i for i, text in enumerate(lines) if text.strip()), None)
            if first is None:
                lines.append(kind)
            else:
                lines[first] = f"{kind}: {lines[first]}"
            return


def drop_borrowed_docstring(  # noqa: PLR0917 - the signature of Sphinx's event
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Module-level data (a version string, a type alias) has no docstring of its
    own; autodoc would show its type's (``str``'s, ``Sequence``'s). Drop that: the
    directive's content in api.rst says what the name is."""
    if what not in ("data", "attribute"):
        return
    borrowed = {inspect.getdoc(type(obj)), inspect.getdoc(getattr(obj, "__origin__", None))}
    if "\n".join(lines).strip() in {doc.strip() for doc in borrowed if doc}:
        lines.clear()


def drop_meaningless_signature(  # noqa: PLR0917 - the signature of Sphinx's event
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """Enums are not called to build members (``Role(value)`` looks one up) and
    protocols are not instantiated: their signatures would only mislead."""
    meaningless = isinstance(obj, type) and (
        issubclass(obj, enum.Enum) or getattr(obj, "_is_protocol", False)
    )
    if what == "class" and meaningless:
        return "", return_annotation
    return None


# ---------------------------------------------------------------- set-up


def setup(app: Sphinx) -> ExtensionMetadata:
    app.add_config_value("noio_ws_benchmark_results", "../benchmarks/results.json", "env", [str])
    app.add_config_value("noio_ws_benchmark_plot", "../benchmarks/plot.py", "env", [str])
    app.add_directive("noio-ws-state-machine", StateMachineDirective)
    app.add_directive("noio-ws-benchmarks", BenchmarksDirective)
    app.add_directive("noio-ws-uvicorn-benchmark", UvicornBenchmarkDirective)
    app.connect("autodoc-process-docstring", drop_borrowed_docstring, priority=400)
    app.connect("autodoc-process-docstring", restore_inline_colon, priority=600)
    app.connect("autodoc-process-signature", drop_meaningless_signature)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
