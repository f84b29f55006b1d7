"""A small reader for protobuf text format, enough for the CEL conformance files: messages
become dicts whose values are lists (every field may repeat); scalars are str, int, float or
bool; enum names are str."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[fFuU]?)
  | (?P<name>-?[A-Za-z_][A-Za-z0-9_./]*)
  | (?P<punct>[{}:\[\],;<>])
)""",
    re.VERBOSE,
)
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "?": "?",
}


def _unescape(body: str) -> str:
    """C-style escapes; octal and \\x escapes are bytes of UTF-8."""
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        n = body[i + 1]
        if n in _ESCAPES:
            out += _ESCAPES[n].encode()
            i += 2
        elif n in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8))
            i = j
        elif n in "xX":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2 : j], 16))
            i = j
        elif n in "uU":
            width = 4 if n == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8")
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{n}")
    return out.decode("utf-8", errors="surrogateescape")


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"cannot read text proto at {text[pos : pos + 40]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind and kind != "comment":
            out.append((kind, m.group(kind)))
    return out


def parse(text: str) -> dict[str, list[Any]]:
    tokens = _tokens(text)
    message, end = _message(tokens, 0, None)
    assert end == len(tokens)
    return message


def _message(
    tokens: list[tuple[str, str]], i: int, close: str | None
) -> tuple[dict[str, list[Any]], int]:
    out: dict[str, list[Any]] = {}
    while i < len(tokens):
        kind, value = tokens[i]
        if close is not None and value == close and kind == "punct":
            return out, i + 1
        if kind == "punct" and value in ",;":
            i += 1
            continue
        if (kind, value) == ("punct", "["):  # an extension or Any type URL: [a.b/c.D]
            name = tokens[i + 1][1]
            i += 3
        else:
            name = value
            i += 1
        if tokens[i] == ("punct", ":"):
            i += 1
        item, i = _value(tokens, i)
        out.setdefault(name, []).append(item)
    if close is not None:
        raise ValueError("unclosed message")
    return out, i


def _value(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    kind, value = tokens[i]
    if kind == "punct" and value in "{<":
        return _message(tokens, i + 1, "}" if value == "{" else ">")
    if kind == "punct" and value == "[":
        items = []
        i += 1
        while tokens[i] != ("punct", "]"):
            if tokens[i] == ("punct", ","):
                i += 1
                continue
            item, i = _value(tokens, i)
            items.append(item)
        return items, i + 1
    if kind == "string":  # adjacent strings concatenate
        parts = []
        while i < len(tokens) and tokens[i][0] == "string":
            parts.append(_unescape(tokens[i][1][1:-1]))
            i += 1
        return "".join(parts), i
    if kind == "number":
        text = value.rstrip("fFuU")
        if re.fullmatch(r"-?\d+", text):
            return int(text), i + 1
        return float(text), i + 1
    if value in ("true", "True"):
        return True, i + 1
    if value in ("false", "False"):
        return False, i + 1
    if value.lower() in ("inf", "infinity", "-inf", "-infinity", "nan", "-nan"):
        return float(value), i + 1
    return value, i + 1
