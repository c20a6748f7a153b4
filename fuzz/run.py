"""Run the fuzz targets: ``python fuzz/run.py --seconds 60`` (see README.rst).

Each target runs in its own process for the given time, with atheris
(coverage-guided, libFuzzer) when it is installed, else with a plain mutation
loop over the seed corpus (``--engine mutate``, no coverage feedback). The
exit status is 0 when every target ran clean, 1 if any crashed (the input is
saved under ``WORKDIR/crashes/``), 2 on a usage error.

Every run starts from the seeds (``seeds.py``) and the corpus kept in the
repository (``fuzz/corpus/<target>/``); what it finds grows in ``WORKDIR/corpus/``.

Other forms:
    python fuzz/run.py --merge --workdir DIR   fold DIR/corpus/* back into fuzz/corpus/* (libFuzzer -merge=1)
    python fuzz/run.py --reproduce TARGET FILE...   run inputs once, show the traceback
    python fuzz/run.py --child TARGET [libFuzzer args]   (used by the runner itself)
"""

# Imports stay inside the functions that need them: atheris must instrument
# noio_ws before anything imports it, and atheris itself is optional.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

TARGET_NAMES = [
    "frames_server",
    "frames_client",
    "frames_deflate_server",
    "frames_deflate_client",
    "handshake_server",
    "extension_header",
]
#: libFuzzer dictionaries (tokens worth splicing in), by target.
DICTIONARIES = {"handshake_server": "http.dict", "extension_header": "http.dict"}
#: Inputs kept in the repository, by target: crashes found once (replayed by
#: tests/test_fuzz_corpus.py) and corpora folded back in; every run starts from them.
CORPUS = HERE / "corpus"
#: Seconds one input may take before it counts as a hang (ReDoS, a loop).
INPUT_TIMEOUT = 10


@dataclass
class Result:
    target: str
    ok: bool
    executions: int
    seconds: float
    detail: str = ""

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


def have_atheris() -> bool:
    try:
        import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ child processes


def child(target: str, args: list[str]) -> None:
    """Fuzz *target* with atheris in this process (libFuzzer parses *args*)."""
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    with atheris.instrument_imports(include=["noio_ws", "h11", "targets"]):
        import targets
    # libFuzzer's merge runs argv[0] through the shell for its inner process:
    # make it a command that reaches this function again (run.py is no executable).
    command = shlex.join([sys.executable, str(Path(__file__).resolve()), "--child", target])
    atheris.Setup([command, *args], targets.TARGETS[target])
    atheris.Fuzz()


def libfuzzer_limits(target: str, crashes: Path) -> list[str]:
    """The flags every libFuzzer process of *target* gets, fuzzing or merging."""
    from targets import TARGETS

    crashes.mkdir(parents=True, exist_ok=True)
    return [
        f"-max_len={TARGETS[target].max_len}",
        f"-timeout={INPUT_TIMEOUT}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={crashes}/{target}-",
    ]


def run_child(target: str, args: list[str], log: Path, timeout: float) -> tuple[int, str]:
    """Run ``--child`` *target* with libFuzzer *args*; its exit status and output."""
    with log.open("w") as output:
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", target, *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return process.returncode, log.read_text(errors="replace")


def run_atheris(target: str, seconds: int, workdir: Path, seeds: Path) -> Result:
    corpus = workdir / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    args = [
        f"-max_total_time={seconds}",
        *libfuzzer_limits(target, workdir / "crashes"),
        "-print_final_stats=1",
    ]
    if target in DICTIONARIES:
        args.append(f"-dict={HERE / DICTIONARIES[target]}")
    args += [str(corpus), str(seeds / target)]
    if (CORPUS / target).is_dir():  # read, never written: new inputs go to the work directory
        args.append(str(CORPUS / target))
    log = workdir / f"{target}.log"
    start = time.monotonic()
    # The extra time: loading the corpus and the final stats, on a busy machine.
    returncode, text = run_child(target, args, log, timeout=seconds + 600)
    elapsed = time.monotonic() - start
    executions = _stat(text, "number_of_executed_units")
    fuzzing_seconds = (
        executions / _stat(text, "average_exec_per_sec") if _stat(text, "average_exec_per_sec") else elapsed
    )
    if returncode != 0:
        artifacts = re.findall(r"Test unit written to (\S+)", text)
        where = f"; input saved as {artifacts[-1]}" if artifacts else ""
        tail = "\n".join(text.splitlines()[-40:])
        return Result(target, False, executions, fuzzing_seconds, f"exit status {returncode}{where}\n{tail}")
    return Result(target, True, executions, fuzzing_seconds, f"log: {log}")


def _stat(text: str, name: str) -> int:
    match = re.search(rf"stat::{name}:\s+(\d+)", text)
    return int(match.group(1)) if match else 0


# ------------------------------------------------------------------ the fallback engine


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """A few random edits of *data*: libFuzzer's simplest mutations, without coverage."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.randrange(8)
        position = rng.randrange(len(buf) + 1)
        if choice == 0 and buf:  # flip a bit
            index = rng.randrange(len(buf))
            buf[index] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:  # a random byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice == 2:  # insert bytes
            buf[position:position] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3 and buf:  # delete a run
            del buf[position : position + rng.randint(1, 16)]
        elif choice == 4 and buf:  # duplicate a run
            start = rng.randrange(len(buf))
            buf[position:position] = buf[start : start + rng.randint(1, 64)]
        elif choice == 5:  # an interesting value (lengths, codes)
            value = rng.choice(
                [0, 1, 125, 126, 127, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 1 << 31, (1 << 63) - 1, 1 << 63]
            )
            size = rng.choice([1, 2, 8])
            buf[position : position + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big")
        elif choice == 6 and corpus:  # splice with another input
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            buf[position:] = other[cut:]
        elif choice == 7 and len(buf) > 2:  # new flags or chunking
            buf[rng.randrange(2)] = rng.randrange(256)
    return bytes(buf)


def run_mutate(target: str, seconds: int, workdir: Path, seeds: Path, seed: int) -> Result:
    """The fallback: random mutations of the seeds, in this process."""
    from targets import TARGETS

    run = TARGETS[target]
    kept = sorted((CORPUS / target).iterdir()) if (CORPUS / target).is_dir() else []
    corpus = [path.read_bytes() for path in [*sorted((seeds / target).iterdir()), *kept]]
    rng = random.Random(seed)
    executions = 0
    start = time.monotonic()
    deadline = start + seconds
    data = b""
    try:
        for data in corpus:  # the seeds themselves first
            run(data)
            executions += 1
        while time.monotonic() < deadline:
            data = mutate(rng.choice(corpus), rng, corpus)[: run.max_len]
            began = time.monotonic()
            run(data)
            executions += 1
            if time.monotonic() - began > INPUT_TIMEOUT:
                raise TimeoutError(f"one input took {time.monotonic() - began:.1f} s")
    except Exception:
        crashes = workdir / "crashes"
        crashes.mkdir(parents=True, exist_ok=True)
        path = crashes / f"{target}-crash-{hashlib.sha1(data).hexdigest()}"
        path.write_bytes(data)
        detail = f"input saved as {path}\n{traceback.format_exc()}"
        return Result(target, False, executions, time.monotonic() - start, detail)
    return Result(target, True, executions, time.monotonic() - start)


# ------------------------------------------------------------------ commands


def reproduce(target: str, files: list[str]) -> int:
    from targets import TARGETS

    status = 0
    for name in files:
        try:
            TARGETS[target](Path(name).read_bytes())
        except Exception:
            traceback.print_exc()
            status = 1
        else:
            print(f"{name}: no crash")
    return status


def merge(targets: list[str], workdir: Path) -> int:
    """Fold WORKDIR/corpus/* back into CORPUS/* (see merge_corpus.py); 1 if an input crashed."""
    from merge_corpus import fold_back

    crashes = workdir / "crashes"
    print(f"{'target':24} {'':5} {'kept before':>18} {'the run':>18} {'kept after':>18}")
    status = 0
    for target in targets:
        limits = libfuzzer_limits(target, crashes)

        def libfuzzer(
            args: list[str], log: Path, target: str = target, limits: list[str] = limits
        ) -> tuple[int, str]:
            return run_child(target, [*limits, *args], log, timeout=3600)

        fold = fold_back(target, CORPUS / target, workdir, libfuzzer)
        sizes = [
            f"{files:>5} / {size:>9} B" for files, size in (fold.kept_before, fold.found, fold.kept_after)
        ]
        print(f"{target:24} {'ok' if fold.ok else 'CRASH':5} {' '.join(sizes)}", flush=True)
        print(f"    {fold.detail}", flush=True)
        status |= not fold.ok
    return status


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"] and len(argv) >= 2:
        child(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(prog="fuzz/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--targets", default=",".join(TARGET_NAMES), help="comma-separated (default: all)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keeps the growing corpus, crashes and logs (default: a temporary folder, deleted unless a target crashed)",
    )
    parser.add_argument("--engine", choices=["auto", "atheris", "mutate"], default="auto")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the mutate engine")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="fold WORKDIR/corpus/* back into fuzz/corpus/*, minimized with libFuzzer (needs atheris)",
    )
    parser.add_argument("--reproduce", nargs="+", metavar=("TARGET", "FILE"), help="run inputs once")
    options = parser.parse_args(argv)
    if options.reproduce:
        if len(options.reproduce) < 2 or options.reproduce[0] not in TARGET_NAMES:
            parser.error(f"--reproduce TARGET FILE...; TARGET is one of {', '.join(TARGET_NAMES)}")
        return reproduce(options.reproduce[0], options.reproduce[1:])
    targets = [name for name in options.targets.split(",") if name]
    unknown = set(targets) - set(TARGET_NAMES)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if options.merge:
        if options.workdir is None or not have_atheris():
            parser.error(
                "--merge needs --workdir DIR (the long run's) and atheris (pip install -e '.[fuzz]')"
            )
        return merge(targets, options.workdir)
    engine = options.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "mutate"
    elif engine == "atheris" and not have_atheris():
        parser.error("atheris is not installed (pip install -e '.[fuzz]'), use --engine mutate")

    temporary = options.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="noio_ws-fuzz-")) if temporary else options.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    import seeds as seed_corpus

    for target in targets:
        seed_corpus.write(workdir / "seeds" / target, target)
    print(f"fuzzing with {engine}, {options.seconds} s per target, in {workdir}", flush=True)
    results = []
    for target in targets:
        if engine == "atheris":
            result = run_atheris(target, options.seconds, workdir, workdir / "seeds")
        else:
            result = run_mutate(target, options.seconds, workdir, workdir / "seeds", options.seed)
        results.append(result)
        verdict = "ok" if result.ok else "CRASH"
        print(
            f"{target:24} {verdict:5} {result.executions:>10} executions  {result.per_second:>8.0f}/s",
            flush=True,
        )
        if not result.ok:
            print(result.detail, flush=True)
    failed = [result.target for result in results if not result.ok]
    if failed:
        print(f"crashed: {', '.join(failed)} (inputs and logs in {workdir})")
        return 1
    if temporary:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main(sys.argv[1:]))
