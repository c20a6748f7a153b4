"""The README's example and the examples/ scripts run, so they cannot rot."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", readme)
    assert blocks
    for block in blocks:
        code = "\n".join(line[4:] for line in block.splitlines())
        exec(compile(code, "README.rst", "exec"), {})
    assert "HELLO" in capsys.readouterr().out


def test_in_memory_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "in_memory.py"), run_name="__main__")
    assert "both closed: client CLOSED, server CLOSED" in capsys.readouterr().out
