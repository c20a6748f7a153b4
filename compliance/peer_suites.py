"""Run uvicorn's and httpx-ws's own test suites against a uvicorn WebSocket protocol class.

By default the class is noio_ws's (``noio_ws.integrations.uvicorn:NoioWSProtocol``); any
import string can be given instead, for example uvicorn's own wsproto backend to check
the harness itself. See compliance/README.rst for how to run it and what it counts.

Rules of this module:

- Nothing is written into the repository. The upstream tests, a copy of the checkout
  (pip builds in its source tree), the virtual environment and the reports all live in
  one scratch folder, removed at the end unless ``--keep`` is given.
- Upstream files are used as released, with exactly the edits the issue allows, each
  checked by count: if an edit does not match as often as expected, upstream has
  drifted and the run fails instead of testing something else.
- A suite passes only on counts read from pytest's JUnit XML: every expected case ran
  and passed, with nothing skipped or failed. pytest's exit status must agree, but it
  is never trusted alone.
- Every version is pinned, and every wait is bounded: pytest-timeout per test, and one
  deadline for the whole run after which the process group still running is killed.
- Standard library only, so any Python 3.10+ can run it; the suites themselves need
  3.11+ (uvicorn 0.55.0 does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROTOCOL = "noio_ws.integrations.uvicorn:NoioWSProtocol"
PROTOCOL_ENV = "NOIO_WS_PEER_PROTOCOL"

UVICORN_VERSION = "0.55.0"
HTTPX_WS_VERSION = "0.9.0"

# What the two suites import, and what that imports, pinned as found working together
# (from uvicorn's dev dependency group, httpx-ws's dev group and uv.lock). By line: the
# projects and the runner (anyio is also the plugin behind both suites' "anyio" marker);
# uvicorn's clients and its three HTTP implementations; httpx-ws's client and the
# Starlette app it serves; what they share.
PINNED_TEST_DEPENDENCIES = f"""
    uvicorn=={UVICORN_VERSION} httpx-ws=={HTTPX_WS_VERSION} pytest==9.2.0 pytest-timeout==2.4.0 anyio==4.16.0
    websockets==17.4 wsproto==1.3.2 httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 httptools==0.9.0 zttp==0.0.35
    httpx==0.28.1 httpcore==1.0.9 starlette==1.10.0
    h11==0.16.0 click==8.5.1 certifi==2026.10.19.post1 idna==3.20 typing_extensions==4.16.0
    iniconfig==2.3.1 packaging==26.4 pluggy==1.7.0 Pygments==2.21.0
""".split()

# uvicorn's test_websocket.py: 73 cases take ws_protocol_cls, each under three HTTP
# implementations (httptools, h11, zttp).
UVICORN_EXPECTED = 73 * 3
# httpx-ws's suite: 19 cases start a uvicorn with the class under test (38 upstream,
# where each runs under uvicorn's two backends); the 36 others test the client alone.
HTTPX_WS_EXPECTED_WITH_CLASS = 19
HTTPX_WS_EXPECTED_ALL = 55

# Written into uvicorn's tests/protocols/: the fixture that upstream parametrizes over its
# own backends now yields the class under test (its param id marks those cases), and the
# cases that do not take it (they hard-code uvicorn's websockets backend) are deselected.
UVICORN_PARAM_ID = "ws_under_test"
UVICORN_CONFTEST = '''"""Written by noio_ws's compliance/peer_suites.py: the class under test."""

import pytest
from uvicorn.importer import import_from_string


@pytest.fixture(params=[pytest.param({protocol!r}, id={param_id!r})])
def ws_protocol_cls(request):
    return import_from_string(request.param)


def pytest_collection_modifyitems(config, items):
    config.hook.pytest_deselected(items=[i for i in items if "ws_protocol_cls" not in i.fixturenames])
    items[:] = [i for i in items if "ws_protocol_cls" in i.fixturenames]
'''


class HarnessError(Exception):
    """The harness could not run a suite (download, install, upstream drift, timeout)."""


@dataclass(frozen=True)
class Outcome:
    """What pytest's JUnit XML says of one case."""

    name: str
    status: str  # "passed", "failed" or "skipped"
    message: str


@dataclass(frozen=True)
class Verdict:
    suite: str
    passed: int
    failed: int
    skipped: int
    problems: tuple[str, ...]
    seconds: float


def remaining(deadline: float) -> float:
    """Seconds left before the run's deadline (a time.monotonic() value), shared by every command."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise HarnessError("the overall timeout has run out")
    return left


def run(command: Sequence[str], deadline: float, *, cwd: Path | None = None, log: Path | None = None) -> int:
    """Run a command in its own process group; kill that group if the deadline passes."""
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTEST_ADDOPTS"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    with open(log or os.devnull, "ab") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait(timeout=remaining(deadline))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise HarnessError(f"timed out, killed: {' '.join(command)}") from None


def run_or_fail(command: Sequence[str], deadline: float, log: Path, what: str) -> None:
    if run(command, deadline, log=log) != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise HarnessError(f"{what} failed:\n" + "\n".join(tail))


def copy_checkout(destination: Path) -> Path:
    """Copy the checkout without build products, so pip's in-tree build leaves it alone."""
    ignored = shutil.ignore_patterns(
        ".git", ".tox", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "htmlcov", "_build",
        ".coverage*", "autobahn-reports",
    )  # fmt: skip
    shutil.copytree(REPO, destination, ignore=ignored)
    return destination


def make_environment(scratch: Path, python: str, protocol: str, deadline: float) -> Path:
    """A throwaway venv with noio_ws (and its uvicorn extra), the pinned test deps, and the class."""
    venv = scratch / "venv"
    log = scratch / "install.log"
    too_old = "import sys; sys.exit(f'Python {sys.version.split()[0]} is too old' if sys.version_info < (3, 11) else 0)"
    run_or_fail([python, "-c", too_old], deadline, log, f"checking {python} (uvicorn 0.55.0 needs 3.11+)")
    run_or_fail([python, "-m", "venv", str(venv)], deadline, log, "creating the venv")
    venv_python = venv / "bin" / "python"
    checkout = copy_checkout(scratch / "noio_ws-checkout")
    run_or_fail(
        [str(venv_python), "-m", "pip", "install", "-q", f"{checkout}[uvicorn]", *PINNED_TEST_DEPENDENCIES],
        deadline,
        log,
        "installing noio_ws and the test dependencies",
    )
    # One clear message, rather than every case failing, if the class cannot be imported.
    load = "import sys; from uvicorn.importer import import_from_string; import_from_string(sys.argv[1])"
    run_or_fail([str(venv_python), "-c", load, protocol], deadline, log, f"importing {protocol}")
    return venv_python


def fetch_tests(project: str, version: str, scratch: Path, venv_python: Path, deadline: float) -> Path:
    """Download the sdist and unpack its tests/ (and pyproject.toml); return that folder."""
    downloads = scratch / "sdists"
    run_or_fail(
        [str(venv_python), "-m", "pip", "download", "-q", f"{project}=={version}",
         "--no-binary", ":all:", "--no-deps", "-d", str(downloads)],
        deadline,
        scratch / "download.log",
        f"downloading the {project} {version} sdist",
    )  # fmt: skip
    stem = f"{project.replace('-', '_')}-{version}"
    archive = downloads / f"{stem}.tar.gz"
    if not archive.exists():
        raise HarnessError(f"pip did not leave {archive.name} in {downloads}")
    destination = scratch / stem
    with tarfile.open(archive) as tar:
        wanted = [
            member
            for member in tar.getmembers()
            if member.name == f"{stem}/pyproject.toml" or member.name.startswith(f"{stem}/tests/")
        ]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(scratch, members=wanted, filter="data")
        else:  # Pythons before the extraction filters; the sdist comes from PyPI.
            tar.extractall(scratch, members=wanted)
    if not (destination / "tests").is_dir():
        raise HarnessError(f"{archive.name} has no tests/ directory")
    return destination


def replace_exactly(path: Path, old: str, new: str, count: int) -> None:
    """The one allowed edit to an upstream file; it must match exactly `count` times."""
    text = path.read_text()
    found = text.count(old)
    if found != count:
        raise HarnessError(f"{path.name}: expected {count} x {old!r}, found {found} (upstream changed?)")
    path.write_text(text.replace(old, new))


def read_junit(path: Path) -> list[Outcome]:
    """One outcome per case; a case reported twice (a teardown error) keeps the worst."""
    if not path.exists():
        raise HarnessError(f"pytest wrote no report ({path.name}): it crashed or was killed")
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        status, message = "passed", ""
        for child in case:
            if child.tag in {"failure", "error"}:
                status, message = "failed", gist(child.get("message") or child.tag, child.text or "")
            elif child.tag == "skipped" and status == "passed":
                status, message = "skipped", child.get("message") or "skipped"
        previous = outcomes.get(name)
        if previous is None or rank[status] > rank[previous.status]:
            outcomes[name] = Outcome(name, status, message)
    return list(outcomes.values())


def gist(message: str, traceback: str) -> str:
    """The failing line (pytest marks it with ">") and the message's first lines, on one line."""
    failing = [line[1:].strip() for line in traceback.splitlines() if line.startswith(">")]
    said = " | ".join(line.strip() for line in message.splitlines()[:3])
    return f"{failing[-1]} -> {said}" if failing else said


def judge(suite: Suite, protocol: str, outcomes: list[Outcome], exit_status: int, seconds: float) -> Verdict:
    """Pass only if exactly the expected cases ran and every one of them passed."""
    counts = {status: sum(o.status == status for o in outcomes) for status in ("passed", "failed", "skipped")}
    ours = [o for o in outcomes if suite.with_class(o.name, protocol)]
    problems = [
        f"{o.status.upper()} {o.name}: {o.message.strip()}"[:400] for o in outcomes if o.status != "passed"
    ]
    if len(ours) != suite.expected_with_class:
        problems.append(
            f"{len(ours)} cases ran with the class under test, {suite.expected_with_class} expected"
        )
    if len(outcomes) != suite.expected_all:
        problems.append(f"{len(outcomes)} cases ran in all, {suite.expected_all} expected")
    if exit_status != 0 and not problems:
        problems.append(f"pytest exited with status {exit_status} although every case passed")
    name = f"{suite.project} {suite.version}"
    return Verdict(name, counts["passed"], counts["failed"], counts["skipped"], tuple(problems), seconds)


def prepare_uvicorn(root: Path, protocol: str) -> None:
    replace_exactly(
        root / "tests" / "protocols" / "test_websocket.py",
        "isinstance(protocol, (_WSProtocol, WebSocketsSansIOProtocol))",
        "isinstance(protocol, ws_protocol_cls)",
        count=2,
    )
    conftest = root / "tests" / "protocols" / "conftest.py"
    if conftest.exists():
        raise HarnessError("uvicorn now ships tests/protocols/conftest.py (upstream changed?)")
    conftest.write_text(UVICORN_CONFTEST.format(protocol=protocol, param_id=UVICORN_PARAM_ID))


def prepare_httpx_ws(root: Path, protocol: str) -> None:
    replace_exactly(
        root / "tests" / "conftest.py",
        '@pytest.fixture(params=("wsproto", "websockets"))',
        f"@pytest.fixture(params=({protocol!r},))",
        count=1,
    )


@dataclass(frozen=True)
class Suite:
    project: str
    version: str
    prepare: Callable[[Path, str], None]  # the allowed edits, given the class under test
    target: str  # what pytest runs, relative to the unpacked sdist
    addopts: str  # replaces upstream's addopts
    with_class: Callable[[str, str], bool]  # does this case (name, class) run the class?
    expected_with_class: int
    expected_all: int


SUITES = {
    "uvicorn": Suite(
        "uvicorn",
        UVICORN_VERSION,
        prepare_uvicorn,
        "tests/protocols/test_websocket.py",
        # Upstream's addopts without "-n 8": one test at a time, on a shared machine.
        "-rxXs --strict-config --strict-markers",
        lambda name, _protocol: f"[{UVICORN_PARAM_ID}-" in name,
        UVICORN_EXPECTED,
        UVICORN_EXPECTED,
    ),
    "httpx-ws": Suite(
        "httpx-ws",
        HTTPX_WS_VERSION,
        prepare_httpx_ws,
        "tests",
        "",  # upstream's only add coverage of httpx_ws itself
        lambda name, protocol: protocol in name,
        HTTPX_WS_EXPECTED_WITH_CLASS,
        HTTPX_WS_EXPECTED_ALL,
    ),
}


def run_suite(
    suite: Suite,
    scratch: Path,
    venv_python: Path,
    *,
    protocol: str,
    per_test_timeout: float,
    deadline: float,
) -> Verdict:
    root = fetch_tests(suite.project, suite.version, scratch, venv_python, deadline)
    suite.prepare(root, protocol)
    junit = scratch / f"{suite.project}-junit.xml"
    command = [
        str(venv_python), "-m", "pytest", "-p", "no:cacheprovider", "-o", f"addopts={suite.addopts}",
        f"--timeout={per_test_timeout:g}", f"--junitxml={junit}", "-q", "-rfEs", suite.target,
    ]  # fmt: skip
    started = time.monotonic()
    status = run(command, deadline, cwd=root, log=scratch / f"{suite.project}.log")
    return judge(suite, protocol, read_junit(junit), status, time.monotonic() - started)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--protocol",
        default=os.environ.get(PROTOCOL_ENV, DEFAULT_PROTOCOL),
        help=f"import string of the class under test (default: ${PROTOCOL_ENV}, else {DEFAULT_PROTOCOL})",
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), action="append", help="run only this suite (repeatable)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv (3.11+)")
    parser.add_argument("--per-test-timeout", type=float, default=60.0, help="seconds (pytest-timeout)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and print its path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    deadline = time.monotonic() + arguments.timeout
    scratch = Path(tempfile.mkdtemp(prefix="noio-ws-peer-suites-"))
    verdicts: list[Verdict] = []
    try:
        print(f"== peer test suites, class under test: {arguments.protocol}", flush=True)
        started = time.monotonic()
        venv_python = make_environment(scratch, arguments.python, arguments.protocol, deadline)
        print(f"   environment ready in {time.monotonic() - started:.1f} s", flush=True)
        for name in arguments.suite or list(SUITES):
            verdict = run_suite(
                SUITES[name],
                scratch,
                venv_python,
                protocol=arguments.protocol,
                per_test_timeout=arguments.per_test_timeout,
                deadline=deadline,
            )
            verdicts.append(verdict)
            print(
                f"{verdict.suite}: {verdict.passed} passed, {verdict.failed} failed, {verdict.skipped} skipped"
                f" in {verdict.seconds:.1f} s -- {'FAILED' if verdict.problems else 'OK'}",
                flush=True,
            )
            for problem in verdict.problems:
                print(f"   {problem}", flush=True)
    except HarnessError as error:
        print(f"peer suites: harness error: {error}", file=sys.stderr)
        return 2
    finally:
        if arguments.keep:
            print(f"   scratch folder kept: {scratch} (pytest logs: *.log, reports: *-junit.xml)")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    total = {key: sum(getattr(v, key) for v in verdicts) for key in ("passed", "failed", "skipped")}
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if any(v.problems for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
