"""The documentation's examples run, and the API page names every public name.

How the snippets are tested:

- Every ``.. code-block:: python`` in ``docs/*.rst`` is executed, and every
  ``.. code-block:: pycon`` is run as a doctest (its output is compared).
- The snippets of one page run in order, in one namespace (a fresh module per
  page), so a page reads like a session: a later example may use what an earlier
  one defined. Tracebacks point at the lines of the ``.rst`` file.
- Snippets that use the network really use it: they start their server on a free
  loopback port in a thread or an event loop, with timeouts. A page that does not
  finish within ``PAGE_TIMEOUT`` seconds fails.
- Nothing is skipped silently. Blocks that are not meant to run say so with
  another language (``text``, ``console``, ``http``...), listed in ``NOT_RUN``;
  a code block in any other language, or a directive this file does not run
  (``testcode``, ``doctest``...), fails the test. Plain ``::`` literal blocks are
  never Python: conf.py sets ``highlight_language = "none"``, so they show as text.

Building the site (``sphinx-build -W``) is left to ``tox -e docs`` and CI: it is
too slow for the test suite. The cheap checks of what it builds are here.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from noio_ws import _state

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
PAGE_TIMEOUT = 120.0

RUN_AS_CODE = {"python", "python3", "py"}
RUN_AS_DOCTEST = {"pycon"}
NOT_RUN = {"text", "console", "shell-session", "http", "none", "ini", "json"}

# A directive, possibly opening a list item ("- .. code-block:: python").
_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*(?:[-*+][ \t]+|\d+\.[ \t]+)?)\.\.[ \t]+(?P<name>[\w-]+)::[ \t]*(?P<arg>.*?)[ \t]*$"
)
# Directives whose body is code: each must be one this file runs or knowingly skips.
_CODE_DIRECTIVES = {"code-block", "sourcecode", "code", "testcode", "testsetup", "doctest", "testoutput"}


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int  # 1-based line of the first line of code
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.language})"


def snippets(path: Path, text: str | None = None) -> Iterator[Snippet]:
    """The code blocks of an RST page (*text*, or the file's), in order, dedented."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    # Whatever the parsing below misses, this count does not: none is skipped silently.
    expected = len(re.findall(rf"\.\.[ \t]+(?:{'|'.join(_CODE_DIRECTIVES)})::", text))
    found = 0
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match or match["name"] not in _CODE_DIRECTIVES:
            continue
        if match["name"] not in {"code-block", "sourcecode", "code"}:
            raise AssertionError(
                f"{path.name}:{number + 1}: use '.. code-block:: python' or 'pycon', not '.. {match['name']}::'"
            )
        indent = len(match["indent"])
        body: list[str] = []
        start = None
        for index in range(number + 1, len(lines)):
            text_line = lines[index]
            if text_line.strip() and len(text_line) - len(text_line.lstrip()) <= indent:
                break
            if start is None:
                if not text_line.strip() or re.match(r"^\s+:[\w-]+:", text_line):
                    continue  # options and the blank line before the code
                start = index
            body.append(text_line)
        assert start is not None, f"{path.name}:{number + 1}: empty code block"
        code = textwrap.dedent("\n".join(body)).rstrip() + "\n"
        found += 1
        yield Snippet(path, start + 1, match["arg"] or "none", code)
    assert found == expected, f"{path.name}: {expected} code blocks, but {found} were understood"


def runnable(path: Path) -> list[Snippet]:
    found = []
    for snippet in snippets(path):
        if snippet.language in RUN_AS_CODE | RUN_AS_DOCTEST:
            found.append(snippet)
        else:
            assert snippet.language in NOT_RUN, f"{snippet}: unknown language, so it would not run"
    return found


def run_page(path: Path) -> None:
    """Run the page's snippets in order in one fresh module."""
    module = types.ModuleType(f"docs_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    try:
        for snippet in runnable(path):
            if snippet.language in RUN_AS_CODE:
                # Padding with newlines makes tracebacks show the .rst line numbers.
                code = "\n" * (snippet.line - 1) + snippet.code
                exec(compile(code, str(path), "exec"), namespace)
                continue
            test = parser.get_doctest(snippet.code, namespace, str(snippet), str(path), snippet.line - 1)
            report: list[str] = []
            result = runner.run(test, out=report.append, clear_globs=False)
            assert not result.failed, "".join(report)
            namespace.update(test.globs)  # DocTest ran in a copy of the namespace
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize("path", PAGES, ids=[page.stem for page in PAGES])
def test_examples_run(path: Path) -> None:
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            run_page(path)
        except BaseException as exc:  # reported in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=target, name=f"docs-{path.stem}", daemon=True)
    thread.start()
    thread.join(PAGE_TIMEOUT)
    assert not thread.is_alive(), f"{path.name}: the examples did not finish in {PAGE_TIMEOUT:.0f} s"
    if outcome:
        raise outcome[0]


def test_pages_have_examples() -> None:
    counts = {path.stem: len(runnable(path)) for path in PAGES}
    # The chapters that teach are made of examples; changes and compliance are prose.
    for page in ("index", "overview_of_websockets", "using_noio_ws"):
        assert counts[page] > 0, counts
    assert counts["using_noio_ws"] >= 20, counts


def test_snippet_collection() -> None:
    text = textwrap.dedent(
        """\
        Title
        =====

        .. code-block:: python
           :caption: with an option

           x = 1

             y = 2  # an indented line inside the block
        after

        - .. code-block:: pycon

             >>> 1 + 1
             2

        .. code-block:: text

           not run
        """
    )
    found = list(snippets(DOCS / "example.rst", text))
    assert [(s.line, s.language, s.code) for s in found] == [
        (7, "python", "x = 1\n\n  y = 2  # an indented line inside the block\n"),
        (14, "pycon", ">>> 1 + 1\n2\n"),
        (19, "text", "not run\n"),
    ]
    with pytest.raises(AssertionError, match=r"use '\.\. code-block:: python'"):
        list(snippets(DOCS / "example.rst", ".. testcode::\n\n   x = 1\n"))


# ---------------------------------------------------------------- the API page

PUBLIC_MODULES = (
    "noio_ws",
    "noio_ws.extensions",
    "noio_ws.handshake",
    "noio_ws.testing",
    "noio_ws.testing.hostile",
)


def test_every_public_name_is_in_the_api_page() -> None:
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto(?!module)\w+:: ([\w.]+)", api, re.MULTILINE))
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            qualified = f"{module_name}.{name}"
            if qualified not in documented and qualified not in api:
                missing.append(qualified)
    assert not missing, f"not in docs/api.rst: {', '.join(missing)}"
    for target in documented:
        module_name, _, name = target.rpartition(".")
        assert hasattr(importlib.import_module(module_name), name), (
            f"api.rst documents {target}, which is gone"
        )


# ---------------------------------------------------------------- the generators

sys.path.insert(0, str(DOCS / "_ext"))
docgen = importlib.import_module("noio_ws_docgen")


def test_state_diagram_comes_from_the_table() -> None:
    svg = docgen.state_machine_svg(_state.TRANSITIONS, list(_state.State))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    for state in _state.State:
        assert f">{state.name}</text>" in svg
    for (state, event), after in _state.TRANSITIONS.items():
        assert event.name in svg, (state, event, after)
    table = docgen.transition_table_rst(_state.TRANSITIONS, list(_state.State), list(_state.Input))
    cells = [line for line in table if line.startswith("     - ")]
    assert len(cells) == len(_state.State) * (len(_state.Input) + 1)
    legal = [cell for cell in cells[len(_state.State) :] if cell != "     - \u2014"]
    assert len(legal) == len(_state.TRANSITIONS)


def test_benchmark_page_without_results(tmp_path: Path) -> None:
    lines = docgen.benchmark_rst(tmp_path / "results.json")
    assert any("No benchmark results are committed yet" in line for line in lines)


def test_benchmark_page_with_results(tmp_path: Path) -> None:
    """The table reads the file ``benchmarks/run.py --json`` writes, in its current format
    (one small workload and the memory row, one repetition: about a second)."""
    results = tmp_path / "results.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--repeat", "1"]
    command += ["--only", "recv_text_16B_whole,memory", "--json", str(results)]
    # The checkout's noio_ws, even where it is not installed.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env, check=False)
    assert run.returncode == 0, run.stderr
    document = json.loads(results.read_text())
    text = "\n".join(docgen.benchmark_rst(results))
    assert "``recv_text_16B_whole``" in text
    assert "indicative only" in text  # a quick run says so
    for other in set(document["libraries"]) - {"noio_ws"}:
        assert f"vs {other}" in text
    assert "peak / message size" in text


def test_benchmark_table_follows_the_clock_of_the_run(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    row = {
        "name": "x",
        "description": "a | b *c*",
        "medians_ms": {"noio_ws": 1.0, "other": 3.0},
        "ratios": {"other": 3.0},
        "cpu_medians_ms": {"noio_ws": 2.0, "other": 5.0},
        "cpu_ratios": {"other": 2.5},
    }
    document = {"libraries": {"noio_ws": "1", "other": "2"}, "mode": "full", "workloads": [row]}
    results.write_text(json.dumps(document))
    wall = "\n".join(docgen.benchmark_rst(results))
    assert "a \\| b \\*c\\*" in wall  # escaped for RST
    assert "indicative" not in wall  # a full run
    assert "**3.00x**" in wall
    assert "wall-clock" in wall
    results.write_text(json.dumps({**document, "clock": "cpu"}))
    cpu = "\n".join(docgen.benchmark_rst(results))
    assert "**2.50x**" in cpu
    assert "CPU time" in cpu
