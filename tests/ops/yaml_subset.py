"""Just enough YAML to read render.yaml in a test, since PyYAML is not a dependency of the project.

Block mappings and block sequences (a sequence item may open a mapping: `- key: value`), comments,
and scalars: 'single' or "double" quoted strings, true/false/null, integers, `[]` and `{}`, and plain
strings. Anything else (anchors, multi-line strings, flow collections with items, tabs) is refused
with ValueError rather than read wrong.
"""
from __future__ import annotations

import json
import re

_KEY = re.compile(r"^([A-Za-z_][\w.-]*):(?:\s+(.*))?$")


def loads(text: str):
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"line {number}: tab in indentation")
        content = _strip_comment(raw).rstrip()
        if content.strip():
            lines.append((len(content) - len(content.lstrip(" ")), content.strip(), number))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"line {lines[end][2]}: unexpected indentation")
    return value


def _strip_comment(line: str) -> str:
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " :-["):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] == " "):
            return line[:index]
    return line


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines, i, indent):
    if _is_item(lines[i][1]):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines, i, indent):
    result = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        _, content, number = lines[i]
        match = _KEY.match(content)
        if not match:
            raise ValueError(f"line {number}: expected `key: value`, got {content!r}")
        key, rest = match.group(1), match.group(2)
        if key in result:
            raise ValueError(f"line {number}: duplicate key {key!r}")
        i += 1
        if rest:
            result[key] = _scalar(rest, number)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _is_item(lines[i][1]))):
            result[key], i = _block(lines, i, lines[i][0])
        else:
            result[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise ValueError(f"line {lines[i][2]}: unexpected indentation")
    return result, i


def _sequence(lines, i, indent):
    result = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        _, content, number = lines[i]
        rest = content[1:].lstrip(" ")
        if not rest:
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                value, i = _block(lines, i, lines[i][0])
            else:
                value = None
        elif _KEY.match(rest):  # `- key: value` opens a mapping at the column of `key`
            column = indent + len(content) - len(rest)
            lines = lines[:i] + [(column, rest, number)] + lines[i + 1:]
            value, i = _mapping(lines, i, column)
        else:
            value, i = _scalar(rest, number), i + 1
        result.append(value)
    return result, i


def _scalar(text: str, number: int):
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise ValueError(f"line {number}: unterminated string")
        return text[1:-1].replace("''", "'")
    if text[0] == '"':
        return json.loads(text)
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    if text[0] in "[{&*!|>%@`":
        raise ValueError(f"line {number}: {text!r} is beyond this subset of YAML")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return text
