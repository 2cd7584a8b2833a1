"""Installable anywhere: the wheel, installed (not editable) into a fresh virtualenv, verifies,
records and replays from an empty directory and writes only there.

Offline and lean: the wheel is built without build isolation, installed with --no-deps
--no-index, and the fresh venv borrows this environment's dependencies through a .pth file
(never its editable wfcontracts: the fresh venv's own site-packages comes first, and a path
added by a .pth file does not run that directory's .pth files).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from wfcontracts import __version__
from wfcontracts.scaffold import WORKFLOW_PATH
from wfcontracts.shipped import tree_digest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "wfc-RECOGNISABLE-install-token-91c2"
SUITES = ["compat", "contract", "fuzz", "lifecycle"]


def run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root``: what "nothing was written there" is checked by."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass
class Installed:
    venv: Path
    site: Path
    env: dict[str, str]

    @property
    def package(self) -> Path:
        return self.site / "wfcontracts"

    def wfcontracts(
        self, *args: str, cwd: Path, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return run([str(self.venv / "bin" / "wfcontracts"), *args], cwd, self.env, timeout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build`: the sdist, then the wheel built from it (so the sdist is complete)."""
    out = tmp_path_factory.mktemp("dist")
    built = run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        cwd=out, env=dict(os.environ), timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, explain(built)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("venv") / "v"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent, {})
    assert made.returncode == 0, explain(made)
    python = venv / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    # Installed before the .pth exists: pip must see an empty environment, never this one.
    pip = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install",
         "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        venv.parent, dict(os.environ),
    )  # fmt: skip
    assert pip.returncode == 0, explain(pip)
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            venv.parent, {}).stdout.strip()
    )  # fmt: skip
    (site / "_wfcontracts_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CDF_", "IDP_", "WFCONTRACTS_", "PYTEST_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = run(
        [str(python), "-c",
         "import wfcontracts, wfcontracts.verification as v; "
         "print(wfcontracts.__file__); print(v.suites_dir())"],
        venv.parent, env,
    )  # fmt: skip
    assert where.returncode == 0, explain(where)
    module, suites = (Path(line) for line in where.stdout.split())
    assert module.is_relative_to(site), f"imports {module}, not the installed wheel"
    assert suites == site / "wfcontracts" / "_suites"
    return Installed(venv, site, env)


@pytest.fixture
def untouched(installed: Installed) -> Iterator[None]:
    """The installed package and the checkout's shipped cassettes are the same after the test."""
    before = snapshot(installed.site), snapshot(ROOT / "cassettes")
    yield
    after = snapshot(installed.site), snapshot(ROOT / "cassettes")
    assert after[0] == before[0], "a run wrote into the installed package"
    assert after[1] == before[1], "a run wrote into the source checkout's cassettes/"


def test_the_dists_carry_everything_and_pass_twine_check(dist: Path) -> None:
    wheel, sdist = next(dist.glob("*.whl")), next(dist.glob("*.tar.gz"))
    checked = run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                  dist, dict(os.environ))  # fmt: skip
    assert checked.returncode == 0, explain(checked)
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "wfcontracts/_contracts/cdf-workflows.openapi.yaml",
        "wfcontracts/_contracts/baseline/cdf-workflows.openapi.yaml",
        "wfcontracts/_suites/lifecycle/conftest.py",
        "wfcontracts/_suites/fuzz/conftest.py",
        "wfcontracts/_suites/contract/test_positive.py",
        "wfcontracts/_cassettes/lifecycle/test_cancel_running.yaml",
        "wfcontracts/templates/wfcontracts.toml",
        "wfcontracts/templates/wfcontracts.yml",
    ):
        assert needed in names, needed
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    members = tarfile.open(sdist).getnames()
    top = f"wfcontracts-{__version__}"
    for needed in ("suites/lifecycle/conftest.py", "cassettes/lifecycle", "contracts/baseline"):
        assert any(m.startswith(f"{top}/{needed}") for m in members), needed
    assert not [m for m in members if "/reports/" in m or "/.venv/" in m or "__pycache__" in m]


def test_verify_from_an_empty_directory(
    installed: Installed, tmp_path: Path, untouched: None
) -> None:
    work = tmp_path / "my-service"
    work.mkdir()
    version = installed.wfcontracts("--version", cwd=work)
    assert version.returncode == 0 and version.stdout.startswith(f"wfcontracts {__version__} (")
    result = installed.wfcontracts("verify", "--max-examples", "1", "--seed", "1", cwd=work)
    assert result.returncode == 0, explain(result)
    assert result.stdout.splitlines()[0].startswith("wfcontracts: verifying the embedded mock")
    reports = work / "reports"
    for name in ("junit.xml", "summary.json", "index.html", "allure-results"):
        assert (reports / name).exists(), name
    assert {p.name for p in work.iterdir()} <= {"reports", ".hypothesis"}
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["suites"] == SUITES
    assert summary["gate"]["passed"] and summary["totals"]["failed"] == 0
    shipped_contract = installed.package / "_contracts" / "cdf-workflows.openapi.yaml"
    assert Path(summary["contract"]["path"]) == shipped_contract
    sha = hashlib.sha256(shipped_contract.read_bytes()).hexdigest()
    versions = summary["versions"]
    assert (versions["wfcontracts"], versions["contract"]) == (__version__, sha)
    # The same digest a checkout of the same source reports.
    assert versions["suites"] == tree_digest(installed.package / "_suites")
    assert versions["suites"] == tree_digest(ROOT / "suites")
    assert all(entry["nodeid"].startswith("_suites/") for entry in summary["checks"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[str]:
    """`wfcontracts mock serve` of the installed wheel, at instant pace (the recording is quick)."""
    port = free_port()
    serve_dir = tmp_path / "serve"
    serve_dir.mkdir()
    command = [
        str(installed.venv / "bin" / "wfcontracts"), "mock", "serve", "--port", str(port),
        "--token", TOKEN, "--pace", "instant",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=serve_dir, env=installed.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/_mock/clock", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, f"mock serve exited: {process.stderr.read()}"  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "mock serve did not start"
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_verify_record_and_replay_from_an_empty_directory(
    installed: Installed, served: str, tmp_path: Path, untouched: None
) -> None:
    work = tmp_path / "ci"
    work.mkdir()
    target = ["--base-url", served, "--project", "p", "--token", TOKEN]
    verified = installed.wfcontracts(
        "verify", *target, "--suite", "contract", "--suite", "lifecycle", "--seed", "1", cwd=work
    )
    assert verified.returncode == 0, explain(verified)
    assert verified.stdout.splitlines()[0].startswith(f"wfcontracts: verifying {served}")

    recorded = installed.wfcontracts("record", *target, cwd=work)
    assert recorded.returncode == 0, explain(recorded)
    cassettes = sorted((work / "cassettes" / "lifecycle").glob("*.yaml"))
    shipped = sorted((installed.package / "_cassettes" / "lifecycle").glob("*.yaml"))
    assert [p.name for p in cassettes] and {p.name for p in cassettes} <= {p.name for p in shipped}
    assert all(TOKEN not in path.read_text() for path in cassettes)
    assert f"cassettes: {work.resolve() / 'cassettes' / 'lifecycle'}/" in recorded.stdout

    replayed = installed.wfcontracts("verify", "--replay", cwd=work)
    assert replayed.returncode == 0, explain(replayed)
    first = replayed.stdout.splitlines()[0]
    assert f"recorded cassettes in {work.resolve() / 'cassettes'} " in first, first

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shipped_replay = installed.wfcontracts("verify", "--replay", "--suite", "compat", cwd=elsewhere)
    assert shipped_replay.returncode == 0, explain(shipped_replay)
    first = shipped_replay.stdout.splitlines()[0]
    assert f"recorded cassettes in {installed.package / '_cassettes'} " in first, first


def test_init_then_verify_passes(installed: Installed, tmp_path: Path, untouched: None) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    init = installed.wfcontracts("init", cwd=work)
    assert init.returncode == 0, explain(init)
    workflow = yaml.safe_load((work / WORKFLOW_PATH).read_text())
    steps = workflow["jobs"]["verify"]["steps"]
    # Every wfcontracts command the workflow runs, run by the installed CLI (budget trimmed).
    commands = [
        line.split()
        for step in steps
        for line in step.get("run", "").splitlines()
        if line.startswith("wfcontracts ")
    ]
    assert ["wfcontracts", "verify"] in commands
    for command in commands:
        extra = ["--max-examples", "1", "--seed", "1"] if command[1:] == ["verify"] else []
        result = installed.wfcontracts(*command[1:], *extra, cwd=work)
        assert result.returncode == 0, explain(result)
    summary = json.loads((work / "reports" / "summary.json").read_text())
    assert summary["suites"] == SUITES and summary["gate"]["passed"]
    assert (work / "reports" / "junit.xml").is_file() and (
        work / "reports" / "index.html"
    ).is_file()
