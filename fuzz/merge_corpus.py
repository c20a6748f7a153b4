"""Fold a long run's corpus back into the one kept in the repository: ``run.py --merge``.

Rules of this module:
- libFuzzer decides what to keep (``-merge=1``: an input is copied into the
  first folder only if it adds coverage features to what that folder already
  has, smallest inputs first); this module only prepares the folders, checks
  the result and writes ``fuzz/corpus/<target>/``.
- The merge starts from the seeds and the hand-named regression inputs. Seeds
  are written anew by every run, so the kept corpus holds only what they do not
  reach; regression inputs (any name that is not a SHA-1) are never dropped.
- Only crash-free inputs are kept: libFuzzer leaves out an input that crashes
  or hangs (and saves it under ``WORKDIR/crashes/``), and each input kept is
  replayed here once more, since tests/test_fuzz_corpus.py replays them all.
- The kept corpus is rewritten only after a merge that succeeded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import seeds as seed_corpus
from targets import TARGETS

__all__ = ["FOUND_NAME", "Fold", "fold_back"]

#: libFuzzer and seeds.py name an input by the SHA-1 of its bytes.
FOUND_NAME = re.compile(r"[0-9a-f]{40}")

#: Runs the target's libFuzzer with these arguments, its output going to the
#: log file; gives the exit status and the output.
LibFuzzer = Callable[[list[str], Path], tuple[int, str]]


@dataclass
class Fold:
    target: str
    ok: bool
    #: (files, bytes) of the kept corpus before, of the run's corpus, of the kept corpus after.
    kept_before: tuple[int, int]
    found: tuple[int, int]
    kept_after: tuple[int, int]
    detail: str


def files_and_bytes(folder: Path) -> tuple[int, int]:
    paths = [path for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []
    return len(paths), sum(path.stat().st_size for path in paths)


def fold_back(target: str, kept: Path, workdir: Path, libfuzzer: LibFuzzer) -> Fold:
    """Merge WORKDIR/corpus/TARGET into *kept*: the fewest inputs that keep the coverage of both."""
    kept.mkdir(parents=True, exist_ok=True)
    found = workdir / "corpus" / target
    kept_before, found_size = files_and_bytes(kept), files_and_bytes(found)
    crashes = workdir / "crashes"
    artifacts_before = set(crashes.glob(f"{target}-*"))
    with tempfile.TemporaryDirectory(prefix=f"merge-{target}-", dir=workdir) as scratch:
        merged, seeds = Path(scratch) / "merged", Path(scratch) / "seeds"
        seed_corpus.write(seeds, target)
        regressions = [path for path in kept.iterdir() if not FOUND_NAME.fullmatch(path.name)]
        baseline = [*seeds.iterdir(), *regressions]
        merged.mkdir()
        for path in baseline:
            shutil.copy(path, merged / path.name)
        sources = [str(folder) for folder in (kept, found) if folder.is_dir()]
        returncode, text = libfuzzer(["-merge=1", str(merged), *sources], workdir / f"{target}-merge.log")
        summary = re.findall(r"MERGE-OUTER: \d+ new files.*", text)
        if returncode != 0 or not summary:
            tail = "\n".join(text.splitlines()[-40:])
            detail = f"the merge failed (exit status {returncode}), {kept} is unchanged\n{tail}"
            return Fold(target, False, kept_before, found_size, kept_before, detail)
        baseline_names = {path.name for path in baseline}
        clean, problems = [], []
        for path in sorted(merged.iterdir()):
            if path.name in baseline_names:
                continue
            try:
                TARGETS[target](path.read_bytes())
            except Exception:
                saved = crashes / f"{target}-merged-{path.name}"
                shutil.copy(path, saved)
                problems.append(f"{saved} crashes on replay, left out:\n{traceback.format_exc()}")
            else:
                clean.append(path)
        for path in kept.iterdir():
            if FOUND_NAME.fullmatch(path.name):
                path.unlink()
        for path in clean:
            shutil.copy(path, kept / path.name)
    left_out = sorted(set(crashes.glob(f"{target}-*")) - artifacts_before)
    problems += [f"{path} crashed or hung in the merge, left out" for path in left_out]
    detail = "\n".join([summary[-1], *problems])
    return Fold(target, not problems, kept_before, found_size, files_and_bytes(kept), detail)
