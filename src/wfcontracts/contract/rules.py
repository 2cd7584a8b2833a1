"""The contract's value rules, each defined once: whitespace, ids, byte sizes, query values.

The contract states these rules as JSON Schema, whose regular expressions are ECMA-262 (JSON
Schema 2020-12, §6.4). Python reads the same pattern differently: its `\\s` also matches the
information separators U+001C–U+001F and NEL (U+0085) but not U+FEFF, and its `$` also matches
before a final newline. The compiled validator (jsonschema_rs) and schemathesis' checks read
ECMA-262. So every consumer — the contract's Python validator, the fuzz checks, the execution
checks, the mock through the contract — takes the rule from here, and :func:`python_pattern`
turns a contract pattern into the Python regex that accepts exactly the same strings.
`tests/contract/test_rules.py` pins these definitions against the contract's own patterns.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: ECMA-262 `\s`: WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP U+FEFF, every Zs) and
#: LineTerminator (LF, CR, LS, PS). What "whitespace" means in the contract's patterns.
WHITESPACE: frozenset[str] = frozenset(
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)

#: `ExternalId` / `Version` in the contract: 1..255 characters, no NUL, no whitespace at
#: either end ([SEED-2] "No trailing or leading whitespace and no null characters allowed").
EXTERNAL_ID_PATTERN = r"^[^\s\x00]([^\x00]*[^\s\x00])?$"
EXTERNAL_ID_MAX_LENGTH = 255

#: `Uuid4` in the contract: execution, engine and task execution ids ([SEED-0..4], [DOC-3]).
UUID4_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
UUID4_LENGTH = 36

#: `x-max-json-bytes` (contracts/README.md): the bound on a value's compact UTF-8 JSON size.
MAX_JSON_BYTES = "x-max-json-bytes"


def is_whitespace(char: str) -> bool:
    """Whether `char` is whitespace in the contract's sense (not `str.isspace`)."""
    return char in WHITESPACE


def has_surrounding_whitespace(value: str) -> bool:
    """Whether `value` starts or ends with contract whitespace (`str.strip` strips more)."""
    return bool(value) and (value[0] in WHITESPACE or value[-1] in WHITESPACE)


def is_external_id(value: object) -> bool:
    """Whether `value` is a valid workflow external id or version per the contract."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= EXTERNAL_ID_MAX_LENGTH
        and "\x00" not in value
        and not has_surrounding_whitespace(value)
    )


_UUID4 = re.compile(UUID4_PATTERN.removesuffix("$") + r"\Z")


def is_uuid4(value: object) -> bool:
    """Whether `value` is a UUIDv4 string of exactly 36 characters (the contract's `Uuid4`)."""
    return isinstance(value, str) and len(value) == UUID4_LENGTH and bool(_UUID4.match(value))


def compact_json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (`separators=(",", ":")`, `ensure_ascii=False`):
    how `x-max-json-bytes` is measured (102 400 accepted, 102 401 rejected)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8"))


def query_value(text: str, schema: Any) -> Any:
    """A query-string value as the JSON value its (resolved) schema describes.

    Integers and booleans are read from their spelling; anything else stays the string sent,
    so a value that does not parse is judged against the schema as the string it is.
    """
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


# -- ECMA-262 patterns for Python ---------------------------------------------------------------

_CLASS_MEMBERS = {
    "s": "".join(f"\\u{ord(c):04x}" for c in sorted(WHITESPACE)),
    "d": "0-9",
    "w": "A-Za-z0-9_",
}


def python_pattern(pattern: str) -> str:
    """The Python regex (for `re.search`) accepting exactly what ECMA-262 `pattern` accepts.

    `\\s`, `\\d`, `\\w` and their negations become explicit classes (ECMA's `\\d`/`\\w` are ASCII,
    its `\\s` is :data:`WHITESPACE`); an unescaped `$` outside a class becomes `\\Z` (ECMA's `$`
    without the multiline flag is the end of input only). Raises ValueError for a negated
    shorthand inside a class (`[\\S]`), which has no class spelling; the contract uses none.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            members = _CLASS_MEMBERS.get(escaped.lower())
            if members is None:
                out.append(pattern[i : i + 2])
            elif escaped.islower():
                out.append(members if in_class else f"[{members}]")
            elif in_class:
                raise ValueError(f"cannot translate \\{escaped} inside a class: {pattern!r}")
            else:
                out.append(f"[^{members}]")
            i += 2
            continue
        if in_class:
            if char == "]" and not _opens_class(out):
                in_class = False
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "$":
            out.append(r"\Z")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _opens_class(out: list[str]) -> bool:
    """Whether the `]` about to be written is a literal (first in its class: `[]` or `[^]`)."""
    return bool(out) and (out[-1] == "[" or (out[-1] == "^" and len(out) > 1 and out[-2] == "["))
