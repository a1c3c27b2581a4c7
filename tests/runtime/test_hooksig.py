"""The webhook signature rule shared by the simulator (signs) and the receiver (verifies)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from py_autotask._hooksig import dotnet_form, sign, verify_signature

SECRET = "s3cret-key-of-the-webhook"


def test_the_dotnet_form_escapes_what_autotask_escapes_and_nothing_else() -> None:
    body = json.dumps(
        {"Id": 7, "Fields": {"Title": 'Café & <b> "q" it\'s 1+1 `x` 😀 \\ /', "n": 1.50}},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    assert dotnet_form(body) == (
        b'{"Id":7,"Fields":{"Title":"Caf\\u00E9 \\u0026 \\u003Cb\\u003E \\u0022q\\u0022 it\\u0027s '
        b'1\\u002B1 \\u0060x\\u0060 \\uD83D\\uDE00 \\\\ /","n":1.5}}'
    )
    # already-escaped input (lower-case hex, Python's ensure_ascii) comes out the same way
    assert dotnet_form(b'{"a":"Caf\\u00e9 \\"x\\""}') == b'{"a":"Caf\\u00E9 \\u0022x\\u0022"}'


def test_a_signature_over_either_form_verifies_and_nothing_else_does() -> None:
    plain = '{"Action":"Create","Fields":{"Title":"Grüße & <Co>"}}'.encode()
    assert verify_signature(SECRET, plain, sign(SECRET, plain))
    assert verify_signature(SECRET, plain, sign(SECRET, dotnet_form(plain)))
    assert not verify_signature("another-key", plain, sign(SECRET, plain))
    assert not verify_signature(SECRET, plain + b" ", sign(SECRET, plain))
    for header in (None, "", "sha1=", "sha256=abc", sign(SECRET, plain)[:-2]):
        assert not verify_signature(SECRET, plain, header)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_the_dotnet_form_keeps_the_value_and_is_ascii_and_stable(value: object) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    once = dotnet_form(body)
    assert json.loads(once) == value
    assert once.isascii()
    assert dotnet_form(once) == once
