"""The one cassette reader: what replay and drift both accept, and the stamp it reads."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfcontracts.cassettes import reading, recorder
from wfcontracts.cassettes.reading import (
    CassetteMeta,
    CorruptCassetteError,
    first_header,
    load_cassette,
    load_cassettes,
)
from wfcontracts.compat import drift

URI = "http://mock.local/api/v1/projects/demo/workflows/executions/list"


def interaction(body: Any, **headers: list[str]) -> dict[str, Any]:
    return {
        "request": {"method": "post", "uri": URI, "body": '{"limit": 1}', "headers": {}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"], **headers},
            "body": {"string": body},
        },
    }


def write(path: Path, *interactions: dict[str, Any], **extra: Any) -> Path:
    data = {"version": 1, "interactions": list(interactions), **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_replay_and_drift_share_the_reader_and_its_errors() -> None:
    assert drift.load_cassettes is reading.load_cassettes
    assert drift.Cassette is reading.Cassette
    assert drift.CassetteError is recorder.CassetteError is reading.CassetteError
    assert recorder.CorruptCassetteError is CorruptCassetteError
    assert recorder.CassetteMeta is CassetteMeta
    assert issubclass(CorruptCassetteError, drift.CassetteError)


def test_stamped_cassette_reads_for_drift_and_for_replay(tmp_path: Path) -> None:
    stamp = CassetteMeta("ab" * 32, "2025-01-01T00:00:00Z", "http://mock.local", "demo")
    path = write(tmp_path / "c.yaml", interaction('{"items": []}'), wfcontracts=stamp.as_yaml())

    (cassette,) = load_cassettes([path])
    meta, requests, responses = recorder.read_cassette(path)

    assert cassette.meta == meta == stamp
    assert (cassette.contract_sha256, cassette.recorded_at) == ("ab" * 32, "2025-01-01T00:00:00Z")
    (only,) = cassette.interactions
    assert (only.index, only.method, only.status, only.body, only.is_json) == (
        0,
        "POST",
        200,
        {"items": []},
        True,
    )
    assert requests[0].method == "post" and requests[0].path.endswith("/executions/list")
    assert responses[0]["body"]["string"] == b'{"items": []}'


def test_an_unstamped_cassette_is_fine_for_drift_but_not_for_replay(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.yaml", interaction(""))

    assert load_cassette(path).meta is None
    with pytest.raises(CorruptCassetteError, match=r"no `wfcontracts.contractSha256`"):
        recorder.read_cassette(path)


def test_a_gzip_body_is_decoded(tmp_path: Path) -> None:
    packed = gzip.compress(json.dumps({"id": "x"}).encode())
    path = write(tmp_path / "gz.yaml", interaction(packed, **{"Content-Encoding": ["gzip"]}))

    assert load_cassette(path).interactions[0].body == {"id": "x"}


def test_an_undecodable_body_names_the_interaction(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", interaction(b"\x00", **{"Content-Encoding": ["br"]}))

    with pytest.raises(CorruptCassetteError, match=r"interactions\[0\]: response body cannot"):
        load_cassette(path)


def test_first_header_is_case_insensitive_and_takes_the_first_value() -> None:
    headers = {"Content-Type": ["application/json", "text/plain"], "X-One": "1", "X-None": []}

    assert first_header(headers, "content-type") == "application/json"
    assert first_header(headers, "x-one") == "1"
    assert first_header(headers, "x-none") is None
    assert first_header(headers, "absent") is None
