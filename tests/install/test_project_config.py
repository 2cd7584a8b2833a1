"""The config file and its precedence (flag > env > file > default), `init`'s files, the
version and suite digests — in-process, no install (tests/install/test_install.py installs)."""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import shutil
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from wfcontracts import __version__, cli
from wfcontracts.cassettes.recorder import suite_of as cassette_suite_of
from wfcontracts.project_config import ConfigError, load_config
from wfcontracts.reporting.results import suite_of, versions
from wfcontracts.runtime import RunOptions, resolve_config
from wfcontracts.scaffold import WORKFLOW_PATH, ScaffoldError, ScaffoldRequest, scaffold
from wfcontracts.shipped import describe_version, tree_digest
from wfcontracts.target.config import TargetConfigError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-RECOGNISABLE-in-config-4b1d"
LIVE_FILE = """
[target]
base-url = "https://file.example"
project = "filep"
max-rps = 3

[run]
suites = ["contract", "compat"]
max-examples = 7
seed = 11
contract = "spec/mine.yaml"
cassettes = "recorded"

[report]
dir = "out"

[gate]
fail-on = ["critical"]
"""


def parsed(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    return cli.configure(cli.build_parser().parse_args(argv), argv, env=env or {}, cwd=cwd)


def options(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> RunOptions:
    return RunOptions.from_namespace(parsed(argv, cwd, env))


def target(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, str | None, str]:
    config = resolve_config(options(argv, cwd, env), env=env)
    return config.kind, config.base_url, config.project


# --- precedence ------------------------------------------------------------------------------


def test_without_a_file_the_built_in_defaults_apply(tmp_path: Path) -> None:
    args = parsed(["verify"], tmp_path)
    assert (args.max_examples, args.report_dir, args.suite, args.fail_on) == (
        25,
        Path("reports"),
        None,
        "critical,major",
    )
    assert args.contract_path is None  # the loader's: $WFCONTRACTS_CONTRACT, else shipped
    assert target(["verify"], tmp_path, {})[0] == "mock"


def test_the_file_fills_what_neither_flag_nor_env_says(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(LIVE_FILE)
    args = parsed(["verify"], tmp_path)
    assert args.suite == ["contract", "compat"]
    assert (args.max_examples, args.seed, args.max_requests_per_second) == (7, 11, 3.0)
    assert args.fail_on == "critical"
    # Paths in the file are relative to the file.
    assert args.report_dir == tmp_path / "out"
    assert args.contract_path == tmp_path / "spec" / "mine.yaml"
    assert args.cassettes_dir == tmp_path / "recorded"
    assert target(["verify"], tmp_path, {"CDF_TOKEN": TOKEN}) == (
        "live",
        "https://file.example",
        "filep",
    )


def test_env_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(LIVE_FILE)
    env = {"CDF_URL": "https://env.example", "CDF_PROJECT": "envp", "CDF_TOKEN": TOKEN}
    assert target(["verify"], tmp_path, env) == ("live", "https://env.example", "envp")
    cluster = {"CDF_CLUSTER": "westeurope-1", "CDF_TOKEN": TOKEN}
    assert target(["verify"], tmp_path, cluster) == (
        "live",
        "https://westeurope-1.cognitedata.com",
        "filep",
    )


def test_env_names_the_contract_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(LIVE_FILE)
    args = parsed(["verify"], tmp_path, {"WFCONTRACTS_CONTRACT": "/elsewhere.yaml"})
    assert args.contract_path is None  # left to the loader, which reads the variable


def test_flags_win_over_env_and_file(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(LIVE_FILE)
    env = {"CDF_URL": "https://env.example", "CDF_PROJECT": "envp", "CDF_TOKEN": TOKEN}
    argv = [
        "verify", "--base-url", "https://flag.example", "--project", "flagp",
        "--max-examples", "25", "--suite", "fuzz", "--report-dir", "mine",
        "--contract", "c.yaml", "--fail-on", "minor", "--max-rps", "0",
    ]  # fmt: skip
    args = parsed(argv, tmp_path, env)
    # Even a flag equal to the built-in default beats the file; a list flag replaces the
    # file's list rather than extending it.
    assert (args.max_examples, args.suite, args.report_dir) == (25, ["fuzz"], Path("mine"))
    assert (args.contract_path, args.fail_on, args.max_requests_per_second) == (
        Path("c.yaml"),
        "minor",
        0.0,
    )
    assert target(argv, tmp_path, env) == ("live", "https://flag.example", "flagp")


def test_the_mock_takes_no_project_from_the_file_as_from_env(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text('[target]\nproject = "filep"\n')
    assert target(["verify"], tmp_path, {}) == ("mock", None, "wfcontracts")
    live = {"CDF_URL": "https://env.example", "CDF_TOKEN": TOKEN}
    assert target(["verify"], tmp_path, live) == ("live", "https://env.example", "filep")


def test_a_project_in_the_files_url_must_agree_with_the_files_project(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(
        '[target]\nbase-url = "https://file.example/api/v1/projects/a"\nproject = "b"\n'
    )
    with pytest.raises(TargetConfigError, match=r"wfcontracts\.toml.*'a'.*'b'"):
        target(["verify"], tmp_path, {"CDF_TOKEN": TOKEN})
    # The environment outranks the whole file, the URL's project included.
    env = {"CDF_PROJECT": "envp", "CDF_TOKEN": TOKEN}
    assert target(["verify"], tmp_path, env) == ("live", "https://file.example", "envp")


def test_record_takes_the_target_contract_and_cassettes_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text(LIVE_FILE)
    args = parsed(["record"], tmp_path)
    assert (args.cassettes_dir, args.contract_path) == (
        tmp_path / "recorded",
        tmp_path / "spec" / "mine.yaml",
    )
    assert args.file_defaults.base_url == "https://file.example"
    assert not hasattr(args, "max_examples")  # verify's settings stay verify's


def test_the_repositorys_own_contract_overrides_the_shipped_one(tmp_path: Path) -> None:
    own = tmp_path / "contracts" / "cdf-workflows.openapi.yaml"
    own.parent.mkdir()
    own.write_text("openapi: 3.1.0\n")
    assert parsed(["verify"], tmp_path).contract_path == own
    assert parsed(["record"], tmp_path).contract_path == own
    assert parsed(["verify", "--contract", "x.yaml"], tmp_path).contract_path == Path("x.yaml")


def test_pyproject_tool_table_is_read_and_wfcontracts_toml_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n\n[tool.wfcontracts.run]\nmax-examples = 4\n'
    )
    assert parsed(["verify"], tmp_path).max_examples == 4
    (tmp_path / "wfcontracts.toml").write_text("[run]\nmax-examples = 9\n")
    assert parsed(["verify"], tmp_path).max_examples == 9
    other = tmp_path / "ci.toml"
    other.write_text("[run]\nmax-examples = 2\n")
    assert parsed(["verify", "--config", str(other)], tmp_path).max_examples == 2
    env = {"WFCONTRACTS_CONFIG": str(other)}
    assert parsed(["verify"], tmp_path, env).max_examples == 2


def test_a_pyproject_without_the_table_is_no_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    assert load_config(cwd=tmp_path).path is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f'[target]\ntoken = "{TOKEN}"\n', ("token", "CDF_TOKEN")),
        ("[run]\nmax-exampels = 3\n", ("max-exampels", "max-examples")),
        ("[runs]\nseed = 1\n", ("[runs]", "[run]")),
        ("[run]\nmax-examples = 0\n", ("max-examples", "at least 1")),
        ('[run]\nsuites = ["contract", "smoke"]\n', ("suites", "smoke")),
        ('[gate]\nfail-on = ["blocker"]\n', ("fail-on", "blocker")),
        ('[report]\ndir = ""\n', ("dir",)),
        ("[run\n", ("not valid TOML",)),
    ],
)
def test_a_bad_file_is_one_line_naming_the_key(
    tmp_path: Path, text: str, words: tuple[str]
) -> None:
    (tmp_path / "wfcontracts.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(cwd=tmp_path)
    message = str(raised.value)
    assert "\n" not in message and "wfcontracts.toml" in message
    assert TOKEN not in message
    for word in words:
        assert word in message


def test_the_cli_reports_a_bad_file_as_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wfcontracts.toml").write_text("[run]\nseed = 'x'\n")
    assert cli.main(["verify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[run] seed" in err[0]
    assert cli.main(["verify", "--config", "missing.toml"]) == 2
    assert "missing.toml" in capsys.readouterr().err


def test_other_commands_never_read_the_file(tmp_path: Path) -> None:
    (tmp_path / "wfcontracts.toml").write_text("not toml at all [")
    args = parsed(["mock", "faults"], tmp_path)
    assert args.command == "mock"


# --- init ------------------------------------------------------------------------------------


def workflow_of(directory: Path) -> dict[str, object]:
    loaded = yaml.safe_load((directory / WORKFLOW_PATH).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_init_writes_a_config_verify_reads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    written = scaffold(ScaffoldRequest(directory=tmp_path))
    assert [path for path, _ in written] == [
        tmp_path / "wfcontracts.toml",
        tmp_path / WORKFLOW_PATH,
    ]
    args = parsed(["verify"], tmp_path)
    assert args.suite == ["contract", "lifecycle", "fuzz", "compat"]
    assert (args.report_dir, args.fail_on, args.max_examples) == (
        tmp_path / "reports",
        "critical,major",
        25,
    )
    assert target(["verify"], tmp_path, {})[0] == "mock"
    with pytest.raises(ScaffoldError, match="--force"):
        scaffold(ScaffoldRequest(directory=tmp_path))
    scaffold(ScaffoldRequest(directory=tmp_path, force=True))


def test_init_with_a_live_target(tmp_path: Path) -> None:
    scaffold(ScaffoldRequest(tmp_path, base_url="https://cdf.example", project="svc-prod"))
    env = {"CDF_TOKEN": TOKEN}
    assert target(["verify"], tmp_path, env) == ("live", "https://cdf.example", "svc-prod")
    with pytest.raises(TargetConfigError):
        scaffold(ScaffoldRequest(tmp_path / "x", base_url="not a url", force=True))
    assert not (tmp_path / "x").exists()  # nothing written unless everything can be


def test_init_into_pyproject_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    original = '[project]\nname = "svc"\n\n[tool.ruff]\nline-length = 99\n'
    (tmp_path / "pyproject.toml").write_text(original)
    scaffold(ScaffoldRequest(tmp_path, pyproject=True))
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    assert not (tmp_path / "wfcontracts.toml").exists()
    config = load_config(cwd=tmp_path)
    assert config.path == tmp_path / "pyproject.toml"
    assert config.settings["max_examples"] == 25
    with pytest.raises(ScaffoldError, match=r"\[tool\.wfcontracts\]"):
        scaffold(ScaffoldRequest(tmp_path, pyproject=True, force=True))
    with pytest.raises(ScaffoldError, match="pyproject.toml"):
        scaffold(ScaffoldRequest(tmp_path / "empty", pyproject=True))


def test_the_workflow_is_valid_yaml_naming_only_commands_that_exist(tmp_path: Path) -> None:
    scaffold(ScaffoldRequest(tmp_path))
    workflow = workflow_of(tmp_path)
    # YAML 1.1 (PyYAML) reads the bare key `on` as true; GitHub reads it as "on".
    assert workflow[True] == {"pull_request": None, "workflow_dispatch": None}  # type: ignore[index]
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    steps = [step for job in jobs.values() for step in job["steps"]]
    actions = {step["uses"].split("@")[0] for step in steps if "uses" in step}
    assert actions == {"actions/checkout", "actions/setup-python", "actions/upload-artifact"}
    commands = [
        shlex.split(line)
        for step in steps
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]
    assert ["wfcontracts", "verify"] in commands
    for command in commands:
        if command[:3] == ["python", "-m", "pip"]:
            assert importlib.util.find_spec("pip") is not None
            assert command[3:] == ["install", f"wfcontracts=={__version__}"]
            continue
        assert command[0] == "wfcontracts", command
        assert metadata.entry_points(group="console_scripts", name="wfcontracts")
        try:
            cli.build_parser().parse_args(command[1:])  # exits on an unknown command or flag
        except SystemExit as exc:
            assert exc.code == 0, command  # --version exits 0
    uploads = [
        path
        for step in steps
        if "upload-artifact" in step.get("uses", "")
        for path in step["with"]["path"].split()
    ]
    assert sorted(uploads) == ["reports/index.html", "reports/junit.xml", "reports/summary.json"]
    assert (parsed(["verify"], tmp_path).report_dir / "x").parent.name == "reports"


def test_init_pins_what_it_was_told_to_install(tmp_path: Path) -> None:
    spec = "wfcontracts @ git+https://example.test/org/wfcontracts@v1"
    scaffold(ScaffoldRequest(tmp_path, install=spec))
    steps = workflow_of(tmp_path)["jobs"]["verify"]["steps"]  # type: ignore[index]
    install = next(step["run"] for step in steps if "pip install" in step.get("run", ""))
    assert shlex.split(install.splitlines()[0])[3:] == ["install", spec]


# --- versions --------------------------------------------------------------------------------


def test_version_names_the_harness_contract_and_suites(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == describe_version()
    assert out.startswith(f"wfcontracts {__version__} (contract sha256:")
    assert f"suites sha256:{tree_digest(ROOT / 'suites')[:12]}" in out


def test_suite_digests_do_not_depend_on_where_the_suites_are_installed(tmp_path: Path) -> None:
    copy = tmp_path / "_suites"
    shutil.copytree(ROOT / "suites", copy)
    (copy / "contract" / "__pycache__").mkdir(exist_ok=True)
    (copy / "contract" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert tree_digest(copy) == tree_digest(ROOT / "suites")
    (copy / "contract" / "test_positive.py").write_text("# changed\n")
    assert tree_digest(copy) != tree_digest(ROOT / "suites")


def test_the_summary_versions_name_harness_contract_and_each_suite() -> None:
    found = versions("ab" * 32)
    assert found["wfcontracts"] == __version__ and found["contract"] == "ab" * 32
    assert found["suites"] == tree_digest(ROOT / "suites")
    assert {key for key in found if key.startswith("suites/")} == {
        f"suites/{name}" for name in ("compat", "contract", "fuzz", "lifecycle")
    }


def test_suite_names_from_installed_suites() -> None:
    assert suite_of("_suites/lifecycle/test_lifecycle.py::test_x") == "lifecycle"
    assert suite_of("suites/contract/test_positive.py::t") == "contract"
    root = Path("/site-packages/wfcontracts")
    test = root / "_suites" / "lifecycle" / "test_lifecycle.py"
    assert cassette_suite_of(test, root) == "lifecycle"
