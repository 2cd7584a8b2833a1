from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.reporting.allure_env import (
    INSTALL_HINT,
    allure_cli_command,
    build_allure_report,
    public_url,
    write_environment,
)
from wfcontracts.reporting.gate import ReportInputError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://user:pw@api.example.test:8443/base?token=t#frag",
            "https://api.example.test:8443/base",
        ),
        ("https://westeurope-1.cognitedata.com", "https://westeurope-1.cognitedata.com"),
        ("http://[::1]:8000/x?y=1", "http://[::1]:8000/x"),
        ("http://host:notaport/", "(unparseable URL)"),
        (None, None),
        ("", None),
    ],
)
def test_public_url_drops_credentials_query_and_fragment(
    url: str | None, expected: str | None
) -> None:
    assert public_url(url) == expected


def test_environment_properties(tmp_path: Path, summary: dict[str, Any], secret_token: str) -> None:
    path = write_environment(tmp_path / "allure-results", summary)
    assert path == tmp_path / "allure-results" / "environment.properties"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines() == [
        "target.kind=live",
        "target.url=https://api.example.test:8443/base",
        "project=demo",
        "contract.path=contracts/cdf-workflows.openapi.yaml",
        f"contract.sha256={'ab' * 32}",
        "wfcontracts.version=0.1.0",
        "schemathesis.version=4.3.2",
        "cognite-sdk.version=not installed",
        "python.version=3.11.7",
    ]
    assert secret_token not in text


def test_environment_of_the_embedded_mock_and_odd_values(tmp_path: Path) -> None:
    summary_like = {"target": {"kind": "mock", "baseUrl": None, "project": "a\nb"}}
    text = write_environment(tmp_path, summary_like).read_text(encoding="utf-8")
    assert "target.url=(embedded mock)" in text
    assert "project=a\\nb" in text  # a value never spills onto a second line
    assert "contract.sha256=unknown" in text


def _fake_allure(directory: Path) -> Path:
    """An executable standing in for the Allure 3 CLI: records its arguments, writes a page."""
    script = directory / "node_modules" / ".bin" / "allure"
    script.parent.mkdir(parents=True)
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" > "$(dirname "$0")/args.txt"\n'
        'while [ "$1" != "--output" ]; do shift; done\n'
        'mkdir -p "$2" && cat > "$2/index.html" <<HTML\n'
        "<html><body>report\n"
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
        "<script>\n  window.dataLayer = window.dataLayer || [];\n  gtag('js', 1);\n</script>\n"
        "<script>window.allure = {};</script></body></html>\n"
        "HTML\n"
        'echo "$ALLURE_NO_ANALYTICS" > "$(dirname "$0")/env.txt"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _without_allure_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.chdir(tmp_path)


def test_no_allure_means_no_command_and_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_allure_on_path(monkeypatch, tmp_path)
    results = tmp_path / "allure-results"
    results.mkdir()
    assert allure_cli_command(results, tmp_path / "out") is None
    with pytest.raises(ReportInputError) as caught:
        build_allure_report(results, tmp_path / "out")
    assert "npm install -g allure" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_results_dir_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="no Allure results in"):
        build_allure_report(tmp_path / "absent", tmp_path / "out")


def test_local_node_modules_allure_builds_a_single_file_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(Path(d, "node").exists() for d in os.get_exec_path()):
        pytest.skip("Node.js is not installed")
    node_dir = next(d for d in os.get_exec_path() if Path(d, "node").exists())
    script = _fake_allure(tmp_path)
    _without_allure_on_path(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", node_dir)
    results, out = tmp_path / "allure-results", tmp_path / "allure-report"
    results.mkdir()
    command = allure_cli_command(results, out)
    assert command is not None and command[:2] == [str(script), "awesome"]
    build_allure_report(results, out)
    page = (out / "index.html").read_text()
    assert "googletagmanager" not in page and "dataLayer" not in page
    assert "<script>window.allure = {};</script>" in page  # the report's own script stays
    assert (script.parent / "env.txt").read_text().strip() == "true"
    args = (script.parent / "args.txt").read_text().split()
    assert args[:4] == ["awesome", str(results), "--output", str(out)]
    assert "--single-file" in args


def test_failing_allure_cli_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("allure", "echo 'Unknown Syntax Error' >&2; exit 1"), ("node", "exit 0")):
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    _without_allure_on_path(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    results = tmp_path / "allure-results"
    results.mkdir()
    with pytest.raises(ReportInputError) as caught:
        build_allure_report(results, tmp_path / "out")
    message = str(caught.value)
    assert "exit 1: Unknown Syntax Error" in message and INSTALL_HINT in message
    assert "\n" not in message


def test_allure_without_node_names_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_allure(tmp_path)
    _without_allure_on_path(monkeypatch, tmp_path)
    results = tmp_path / "allure-results"
    results.mkdir()
    with pytest.raises(ReportInputError, match="Node.js is not installed"):
        build_allure_report(results, tmp_path / "out")
