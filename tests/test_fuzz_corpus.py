"""Replay the fuzz inputs kept in the repository (fuzz/corpus/<target>/) through their targets.

Each file once crashed a target, or was kept by ``fuzz/run.py --merge`` from a
long run because it reaches code the seeds do not; a target raises on any broken
promise, so each replay is a regression test.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = FUZZ / "corpus"
KEPT = sorted(path for path in CORPUS.glob("*/*") if path.is_file())
#: What fuzz/README.rst promises about the corpus's size, all targets together.
MOST_BYTES = 2 << 20
#: Kept inputs the code fails today, and why: strict xfails, so a fix shows up. (The five
#: kept since 4c9046a, a bad length field judged only with the masking key, pass since
#: the reader judges the field as soon as it is whole.)
KNOWN_FAILURES: dict[str, str] = {}


def _replay_case(path: Path) -> object:
    name = f"{path.parent.name}/{path.name}"
    reason = KNOWN_FAILURES.get(name)
    marks = [pytest.mark.xfail(raises=AssertionError, reason=reason, strict=True)] if reason else []
    return pytest.param(path, marks=marks, id=f"{path.parent.name}/{path.name[:12]}")


@pytest.fixture(scope="module")
def targets() -> Iterator[ModuleType]:
    """fuzz/targets.py, loaded once, without putting fuzz/ on sys.path."""
    name = "_noio_ws_fuzz_targets"
    spec = importlib.util.spec_from_file_location(name, FUZZ / "targets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def test_the_corpus_holds_the_issue_18_input() -> None:
    assert CORPUS / "handshake_server" / "issue-18-head-405" in KEPT


def test_every_target_has_a_corpus(targets: ModuleType) -> None:
    folders = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert folders == set(targets.TARGETS)
    assert {path.parent.name for path in KEPT} == set(targets.TARGETS)


def test_the_corpus_stays_small(targets: ModuleType) -> None:
    assert sum(path.stat().st_size for path in KEPT) < MOST_BYTES
    oversized = [path for path in KEPT if path.stat().st_size > targets.TARGETS[path.parent.name].max_len]
    assert oversized == []


def test_merged_inputs_are_named_by_their_sha1() -> None:
    # run.py --merge rewrites only such files; a hand-made input needs another name to stay.
    merged = [path for path in KEPT if re.fullmatch(r"[0-9a-f]{40}", path.name)]
    assert merged
    misnamed = [path for path in merged if hashlib.sha1(path.read_bytes()).hexdigest() != path.name]
    assert misnamed == []


def test_known_failures_are_kept_inputs() -> None:
    # A merge may drop one: then its entry goes too.
    assert {CORPUS / name for name in KNOWN_FAILURES} <= set(KEPT)


@pytest.mark.parametrize("path", [_replay_case(path) for path in KEPT])
def test_kept_input_runs_clean(path: Path, targets: ModuleType) -> None:
    targets.TARGETS[path.parent.name](path.read_bytes())
