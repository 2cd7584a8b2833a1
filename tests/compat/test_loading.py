"""`load_document` reads YAML and JSON contracts and explains bad input in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfcontracts.compat.loading import CompatInputError, load_document
from wfcontracts.errors import WfcontractsError

VALID_YAML = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /workflows: {}\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problem(path: Path) -> str:
    with pytest.raises(CompatInputError) as caught:
        load_document(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_reads_yaml(tmp_path: Path) -> None:
    document = load_document(write(tmp_path, "c.yaml", VALID_YAML))
    assert document["paths"] == {"/workflows": {}}


def test_reads_json(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"openapi": "3.1.0", "paths": {}}')
    assert load_document(str(path)) == {"openapi": "3.1.0", "paths": {}}


def test_error_is_a_wfcontracts_error() -> None:
    assert issubclass(CompatInputError, WfcontractsError)


def test_missing_file(tmp_path: Path) -> None:
    assert problem(tmp_path / "absent.yaml").endswith(
        "cannot read contract: No such file or directory"
    )


def test_directory(tmp_path: Path) -> None:
    assert "cannot read contract" in problem(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"openapi: \xff\xfe\n")
    assert problem(path).endswith("not UTF-8 text")


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "openapi: 3.1.0\npaths:\n  /a: [unclosed\n")
    message = problem(path)
    assert "invalid YAML at line 4, column 1" in message


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{\n  "openapi": "3.1.0",\n  "paths": {,}\n}')
    assert "invalid JSON at line 3, column 13" in problem(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- openapi\n- paths\n", "expected an OpenAPI document (a mapping), got a list"),
        ("", "expected an OpenAPI document (a mapping), got empty"),
        ("paths: {}\n", "not an OpenAPI document: missing 'openapi'"),
        ("openapi: 3.1.0\n", "not an OpenAPI document: missing 'paths'"),
        ("openapi: 3.1.0\npaths: [a]\n", "'paths' must be a mapping"),
    ],
)
def test_documents_that_are_not_openapi(tmp_path: Path, text: str, expected: str) -> None:
    assert problem(write(tmp_path, "c.yaml", text)).endswith(expected)
