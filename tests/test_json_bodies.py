"""How a request body is read (app/json_provider.py): the depth measured on the raw bytes
is the real depth, and no bytes at all make the reader fail other than as a refusal."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.json_provider import MAX_DEPTH, BodyError, check_depth, parse_body

# Strings full of what the depth scan must see past: brackets, quotes and backslashes.
TRICKY = st.text(alphabet=st.sampled_from('[]{}"\\/ aé\n\t'), max_size=12)
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | TRICKY,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
                      max_leaves=12)


def depth(value):
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def nest(value, levels, as_dicts):
    for _ in range(levels):
        value = {'k"[': value} if as_dicts else [value, "]["]
    return value


@settings(max_examples=300, deadline=None, database=None)
@given(value=VALUES, levels=st.integers(0, 70), as_dicts=st.booleans(), ascii_only=st.booleans())
def test_the_depth_scan_agrees_with_the_parsed_depth(value, levels, as_dicts, ascii_only):
    value = nest(value, levels, as_dicts)
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    if depth(value) > MAX_DEPTH:
        with pytest.raises(BodyError, match="nested deeper than 64"):
            check_depth(data)
    else:
        assert parse_body(data) == value


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.binary(max_size=300) | st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b"1",
                                                                 b'"a":', b"\xed\xa0\x80", b"\xff"]),
                                                max_size=400).map(b"".join))
def test_any_bytes_are_read_or_refused_as_bad_json(data):
    try:
        parse_body(data)
    except ValueError:  # BodyError or JSONDecodeError: a 400
        pass


@pytest.mark.parametrize("data", [b"[" * 100_000, b"]" * 100 + b"[" * 100_000, b'{"a":' * 100_000,
                                  b"[" * 65 + b"]" * 64])
def test_deep_or_unpaired_brackets_are_refused_unparsed(data):
    with pytest.raises(BodyError):
        parse_body(data)
    with pytest.raises(ValueError, match="Unterminated string"):  # brackets in a string: no depth
        parse_body(b'"' + b"[" * 100_000)


def test_a_body_must_be_utf8_but_may_start_with_a_bom():
    assert parse_body(b'\xef\xbb\xbf{"a": "\xc3\xa9"}') == {"a": "é"}
    for data in (b'{"a": "\xed\xa0\x80"}', b'{"a": "\xff"}', '{"a": 1}'.encode("utf-16")):
        with pytest.raises(BodyError, match="UTF-8"):
            parse_body(data)
