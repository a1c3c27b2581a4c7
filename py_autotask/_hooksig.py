"""Webhook callout signatures, the one rule the simulator (which signs) and the receiver (which
verifies) share.

Autotask sends ``X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the payload, keyed with the webhook's
secretKey>`` (SecretKeyPayloadVerification.htm). Integrations found that the signed bytes are not
always the bytes received: Autotask signs its own .NET serialisation, in which characters inside
JSON strings are escaped as ``\\uXXXX`` (``& < > ' " ` +`` and every non-ASCII character, upper-case
hex) while the body on the wire may carry them plainly (reverse-engineered by n8n-nodes-autotask;
UNCONFIRMED officially, reference section 13). :func:`dotnet_form` rewrites a body into that form
without re-ordering keys or re-formatting numbers: only string contents change.
:func:`verify_signature` accepts a signature over either form, comparing in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

__all__ = [
    "SIGNATURE_HEADER",
    "dotnet_form",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "X-Hook-Signature"
#: characters .NET's encoder escapes inside JSON strings even when they are ASCII
_ESCAPED_ASCII: Final = frozenset("&<>'\"`+")
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_SHORT_FORMS: Final = {
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\\": "\\\\",
}


def _encode_char(ch: str) -> str:
    """One decoded string character in .NET's form."""
    short = _SHORT_FORMS.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if ch in _ESCAPED_ASCII or code < 0x20 or code > 0x7E:
        if code > 0xFFFF:  # a UTF-16 surrogate pair, as .NET strings hold it
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
        return f"\\u{code:04X}"
    return ch


def dotnet_form(body: bytes) -> bytes:
    """``body`` (UTF-8 JSON) with every string's contents re-escaped the .NET way; everything
    outside strings is kept byte for byte. Bodies that are not valid UTF-8 are returned as they
    are (their signature can only match the raw bytes)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != '"':
            out.append(ch)
            i += 1
            continue
        out.append('"')
        i += 1
        pending_high: int | None = None  # a \uD8xx escape waiting for its low surrogate
        while i < n and text[i] != '"':
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                esc = text[i + 1]
                if esc == "u" and i + 6 <= n:
                    try:
                        code = int(text[i + 2 : i + 6], 16)
                    except ValueError:
                        out.append(text[i : i + 2])
                        i += 2
                        continue
                    i += 6
                    if 0xD800 <= code <= 0xDBFF:
                        pending_high = code
                        continue
                    if 0xDC00 <= code <= 0xDFFF and pending_high is not None:
                        code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00)
                        pending_high = None
                    out.append(_encode_char(chr(code)))
                    continue
                decoded = _SIMPLE_ESCAPES.get(esc)
                out.append(_encode_char(decoded) if decoded is not None else text[i : i + 2])
                i += 2
                continue
            out.append(_encode_char(ch))
            i += 1
        if pending_high is not None:  # a lone high surrogate: keep it escaped
            out.append(f"\\u{pending_high:04X}")
        if i < n:
            out.append('"')
            i += 1
    return "".join(out).encode("ascii", "backslashreplace")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hook-Signature`` value for ``body``: ``sha1=`` and the Base64 HMAC-SHA1."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).digest()
    return "sha1=" + base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs ``body`` as received or in its .NET form (constant-time compare;
    a missing or malformed header never verifies)."""
    if not header or not secret:
        return False
    given = header.strip().encode("ascii", "replace")
    candidates = [body]
    dotnet = dotnet_form(body)
    if dotnet != body:
        candidates.append(dotnet)
    ok = False
    for candidate in candidates:  # every candidate is compared: no early exit on a match
        ok |= hmac.compare_digest(given, sign(secret, candidate).encode("ascii"))
    return ok
