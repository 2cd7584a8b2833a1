from __future__ import annotations

import gzip
import json
import shlex

import pytest

from wfcontracts.redact import (
    MASK,
    SECRET_KEYS,
    curl_command,
    is_secret_key,
    mask_known,
    scrub_body,
    scrub_headers,
    scrub_json,
    scrub_url,
)

TOKEN = "eyJ-recognisable-token-0123456789"
SECRET = "client-secret-abcdef-987654"


@pytest.mark.parametrize(
    "name",
    ["Authorization", "COOKIE", "Set-Cookie", "X-Api-Key", "clientSecret", "client_secret",
     "Client-Secret", "access_token", "refreshToken", "id_token", "nonce", "Nonce", "password"],
)  # fmt: skip
def test_secret_key_names_match_case_and_separator_insensitively(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["clientId", "content-type", "externalId", "nextCursor", "id"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_key(name)


def test_secret_keys_cover_the_documented_names() -> None:
    required = {"authorization", "nonce", "client_secret", "access_token", "set-cookie", "token"}
    assert required <= SECRET_KEYS


def test_scrub_headers_keeps_the_auth_scheme_and_masks_the_rest() -> None:
    headers: dict[str, str | list[str]] = {
        "Authorization": f"Bearer {TOKEN}",
        "Set-Cookie": ["a=1; Path=/", "b=2"],
        "x-api-key": "k-123456",
        "Content-Type": "application/json",
    }
    assert scrub_headers(headers) == {
        "Authorization": "Bearer ***",
        "Set-Cookie": [MASK, MASK],
        "x-api-key": MASK,
        "Content-Type": "application/json",
    }
    assert headers["Authorization"] == f"Bearer {TOKEN}"  # the input is left alone


def test_scrub_headers_masks_a_schemeless_authorization_value() -> None:
    assert scrub_headers({"authorization": TOKEN}) == {"authorization": MASK}


def test_scrub_json_is_recursive_and_returns_a_new_object() -> None:
    document = {
        "authentication": {"nonce": "n-0123456789"},
        "items": [{"clientSecret": SECRET, "clientId": "app"}, {"token": None}],
        "input": {"deep": [{"access_token": TOKEN, "keep": 1}]},
    }
    scrubbed = scrub_json(document)
    assert scrubbed == {
        "authentication": {"nonce": MASK},
        "items": [{"clientSecret": MASK, "clientId": "app"}, {"token": None}],
        "input": {"deep": [{"access_token": MASK, "keep": 1}]},
    }
    assert document["authentication"] == {"nonce": "n-0123456789"}


def test_scrub_body_json_keeps_the_type_of_its_input() -> None:
    body = json.dumps({"authentication": {"nonce": "n-0123456789"}, "input": {"a": 1}})
    scrubbed_bytes = scrub_body(body.encode(), "application/json; charset=utf-8")
    scrubbed_text = scrub_body(body, "application/json")
    assert isinstance(scrubbed_bytes, bytes)
    assert json.loads(scrubbed_bytes) == {"authentication": {"nonce": MASK}, "input": {"a": 1}}
    assert isinstance(scrubbed_text, str)
    assert json.loads(scrubbed_text) == json.loads(scrubbed_bytes)


def test_scrub_body_leaves_a_json_body_without_secrets_byte_for_byte() -> None:
    body = b'{ "items" : [ 1, 2 ] }'
    assert scrub_body(body, "application/json") == body


def test_scrub_body_form_masks_secret_fields() -> None:
    body = f"grant_type=client_credentials&client_id=app&client_secret={SECRET}&scope=a+b"
    scrubbed = scrub_body(body.encode(), "application/x-www-form-urlencoded")
    assert isinstance(scrubbed, bytes)
    assert SECRET.encode() not in scrubbed
    assert b"client_secret=***" in scrubbed
    assert b"client_id=app" in scrubbed


def test_scrub_body_masks_string_secrets_in_json_that_does_not_parse() -> None:
    body = '{"input": {"a": "x\\"y"}, "Nonce" : "n-0123456789", "b": '
    assert scrub_body(body, "application/json") == (
        '{"input": {"a": "x\\"y"}, "Nonce" : "***", "b": '
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"not json {", "application/json"), (b"\x1f\x8b\x08binary", "application/json"),
     (b"token=abc", "text/plain")],
)  # fmt: skip
def test_scrub_body_leaves_what_it_cannot_parse_unchanged(body: bytes, content_type: str) -> None:
    assert scrub_body(body, content_type) == body


def test_scrub_body_sniffs_json_without_a_content_type() -> None:
    assert json.loads(scrub_body('{"token": "t-12345"}', None)) == {"token": MASK}


def test_scrub_url_masks_secret_query_parameters_and_password() -> None:
    url = f"https://user:{SECRET}@host.example/path?access_token={TOKEN}&limit=1"
    scrubbed = scrub_url(url)
    assert scrubbed == "https://user:***@host.example/path?access_token=***&limit=1"


def test_scrub_url_without_secrets_is_unchanged() -> None:
    url = "https://host.example/api/v1/projects/p/workflows?limit=1&cursor=a%2Bb"
    assert scrub_url(url) == url


def test_mask_known_masks_longest_first_and_ignores_short_values() -> None:
    text = f"token {TOKEN} prefix {TOKEN[:10]} short ab"
    masked = mask_known(text, [TOKEN[:10], TOKEN, "ab", "", None])
    assert masked == "token *** prefix *** short ab"


def test_mask_known_with_no_usable_secret_returns_text() -> None:
    assert mask_known("abc", ["", "abc"]) == "abc"


def test_curl_command_masks_and_quotes() -> None:
    line = curl_command(
        "post",
        "https://h.example/api/v1/projects/p/workflows/wf/versions/1/run",
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
         "Content-Length": "99"},
        json.dumps({"authentication": {"nonce": "n-0123456789"}, "input": {"q": "it's"}}),
    )  # fmt: skip
    assert "-H 'Authorization: Bearer ***'" in line
    assert TOKEN not in line and "n-0123456789" not in line
    assert "Content-Length" not in line
    words = shlex.split(line)
    assert words[:4] == ["curl", "-X", "POST", words[3]]
    body = json.loads(words[words.index("--data-raw") + 1])
    assert body == {"authentication": {"nonce": MASK}, "input": {"q": "it's"}}


def test_curl_command_shows_a_gzip_body_decompressed() -> None:
    body = gzip.compress(json.dumps({"client_secret": SECRET}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    line = curl_command("POST", "https://h.example/x", headers, body)
    assert SECRET not in line
    assert "Content-Encoding" not in line
    assert json.loads(shlex.split(line)[-1]) == {"client_secret": MASK}


def test_curl_command_without_body_or_headers() -> None:
    assert curl_command("get", "https://h.example/x?limit=1") == (
        "curl -X GET 'https://h.example/x?limit=1'"
    )


def test_curl_command_masks_known_secrets_under_innocent_names() -> None:
    line = curl_command("POST", "https://h.example/x", {}, '{"input": "' + SECRET + '"}',
                        secrets=[SECRET])  # fmt: skip
    assert SECRET not in line
    assert json.loads(shlex.split(line)[-1]) == {"input": MASK}
