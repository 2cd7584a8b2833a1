"""One definition of each value rule: `contract/rules.py` agrees with the contract's own schemas,
under both validators (compiled ECMA-262 and Python), for every value the id pattern allows."""

from __future__ import annotations

import re
import sys
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfcontracts.contract import Contract, load_contract
from wfcontracts.contract.rules import (
    EXTERNAL_ID_MAX_LENGTH,
    EXTERNAL_ID_PATTERN,
    UUID4_LENGTH,
    UUID4_PATTERN,
    WHITESPACE,
    compact_json_size,
    has_surrounding_whitespace,
    is_external_id,
    is_uuid4,
    python_pattern,
    query_value,
)

CONTRACT = load_contract()
EXTERNAL_ID = CONTRACT.schema_ref("ExternalId")
PROPERTY = settings(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))

#: Characters some reading of "whitespace" counts and another does not: Python's `str.isspace`
#: (U+001C..U+001F, NEL), ECMA-262's (U+FEFF), neither (U+180E, U+200B), and NUL.
CONTESTED = "\x1c\x1d\x1e\x1f\x85\ufeff\u180e\u200b\x00"
EDGES = sorted(WHITESPACE | set(CONTESTED) | {c for c in map(chr, range(0x3100)) if c.isspace()})


def schema(name: str) -> dict[str, Any]:
    node = CONTRACT.document["components"]["schemas"][name]
    assert isinstance(node, dict)
    return node


def compiled(contract: Contract, name: str) -> Any:
    """The contract's schema under the compiled (ECMA-262) validator alone."""
    return jsonschema_rs.validator_for(contract._inline(contract.schema_ref(name)))


def contract_says_id(value: str) -> bool:
    """The contract's verdict, both validators asked (the Python one explains rejections)."""
    fast = bool(compiled(CONTRACT, "ExternalId").is_valid(value))
    python = CONTRACT._validator(EXTERNAL_ID).is_valid(value)
    assert fast == python, f"validators disagree on {value!r}: compiled {fast}, python {python}"
    assert (not CONTRACT.validate(EXTERNAL_ID, value)) == fast
    return fast


def test_the_contract_spells_the_rules_of_this_module() -> None:
    external_id, uuid4 = schema("ExternalId"), schema("Uuid4")
    assert external_id["pattern"] == EXTERNAL_ID_PATTERN
    assert external_id["maxLength"] == EXTERNAL_ID_MAX_LENGTH
    assert uuid4["pattern"] == UUID4_PATTERN
    assert uuid4["minLength"] == uuid4["maxLength"] == UUID4_LENGTH
    assert schema("Version") == {"$ref": "#/components/schemas/ExternalId"}


def test_whitespace_is_what_the_compiled_validator_reads_as_backslash_s() -> None:
    """ECMA-262 `\\s`, checked over every code point (not Python's `str.isspace`)."""
    backslash_s = jsonschema_rs.validator_for({"pattern": r"^\s$"})
    scalars = (chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    read = {c for c in scalars if backslash_s.is_valid(c)}
    assert read == WHITESPACE
    assert "\x1c" not in WHITESPACE and "\x1c".isspace()
    assert "\ufeff" in WHITESPACE and not "\ufeff".isspace()


@given(st.from_regex(python_pattern(EXTERNAL_ID_PATTERN), fullmatch=True))
@PROPERTY
def test_every_value_of_the_id_pattern_is_an_id_to_the_check(value: str) -> None:
    valid = len(value) <= EXTERNAL_ID_MAX_LENGTH
    assert is_external_id(value) == valid
    assert contract_says_id(value) == valid
    assert not has_surrounding_whitespace(value)


@given(
    edge=st.sampled_from(EDGES),
    core=st.from_regex(python_pattern(EXTERNAL_ID_PATTERN), fullmatch=True).filter(
        lambda v: len(v) < EXTERNAL_ID_MAX_LENGTH - 2
    ),
    where=st.sampled_from(["start", "end", "inside", "alone"]),
)
@PROPERTY
def test_contested_whitespace_gets_one_verdict(edge: str, core: str, where: str) -> None:
    value = {
        "start": edge + core,
        "end": core + edge,
        "inside": core + edge + core,
        "alone": edge,
    }[where]
    assert contract_says_id(value) == is_external_id(value), repr(value)


@pytest.mark.parametrize("char", EDGES, ids=lambda c: f"U+{ord(c):04X}")
def test_each_contested_character_at_either_end(char: str) -> None:
    for value in (char + "id", "id" + char, "i" + char + "d"):
        assert contract_says_id(value) == is_external_id(value), repr(value)
    assert is_external_id(char + "id") == (char not in WHITESPACE and char != "\x00")


def test_a_trailing_newline_is_whitespace_to_both_validators() -> None:
    # Python's `$` matches before a final newline; ECMA-262's does not.
    assert not contract_says_id("id\n")
    assert not is_external_id("id\n")


@given(st.from_regex(python_pattern(UUID4_PATTERN), fullmatch=True))
@PROPERTY
def test_every_value_of_the_uuid_pattern_is_a_uuid4(value: str) -> None:
    assert is_uuid4(value)
    assert not CONTRACT.validate(CONTRACT.schema_ref("Uuid4"), value)


@pytest.mark.parametrize(
    "value",
    ["", "0" * 36, "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-42d3-a456-42661417400"],
)
def test_non_uuid4_values_are_refused_by_both(value: str) -> None:
    assert not is_uuid4(value)
    assert CONTRACT.validate(CONTRACT.schema_ref("Uuid4"), value)


def test_compact_json_size_counts_utf8_bytes_of_compact_json() -> None:
    assert compact_json_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert compact_json_size({"é": "€"}) == len('{"é":"€"}'.encode())
    assert compact_json_size({"pad": "x" * (102400 - 10)}) == 102400


@pytest.mark.parametrize(
    ("pattern", "translated"),
    [
        (r"^\s$", r"^[" + "".join(f"\\u{ord(c):04x}" for c in sorted(WHITESPACE)) + r"]\Z"),
        (r"[\d_]", r"[0-9_]"),
        (r"\W", r"[^A-Za-z0-9_]"),
        (r"\\s", r"\\s"),
        (r"[]$]$", r"[]$]\Z"),
        (r"^__", r"^__"),
    ],
)
def test_python_pattern(pattern: str, translated: str) -> None:
    assert python_pattern(pattern) == translated
    re.compile(translated)


def test_python_pattern_refuses_a_negated_shorthand_in_a_class() -> None:
    with pytest.raises(ValueError, match="inside a class"):
        python_pattern(r"[\S]")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("5", "integer", 5), ("x", "integer", "x"), ("TRUE", "boolean", True), ("", "string", "")],
)
def test_query_value(text: str, kind: str, value: Any) -> None:
    assert query_value(text, {"type": kind}) == value
