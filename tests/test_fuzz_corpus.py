"""Replay the fuzz inputs kept in the repository (fuzz/corpus/<target>/) through their targets.

Each file once crashed a target or was folded back in from a long run; a target
raises on any broken promise, so each replay is a regression test.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
KEPT = sorted(path for path in (FUZZ / "corpus").glob("*/*") if path.is_file())


def test_the_corpus_holds_the_issue_18_input() -> None:
    assert FUZZ / "corpus" / "handshake_server" / "issue-18-head-405" in KEPT


@pytest.mark.parametrize("path", KEPT, ids=[f"{path.parent.name}/{path.name}" for path in KEPT])
def test_kept_input_runs_clean(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FUZZ))
    targets = importlib.import_module("targets")
    try:
        targets.TARGETS[path.parent.name](path.read_bytes())
    finally:
        sys.modules.pop("targets", None)
