"""A strict reader for the seed's INI dialect that keeps line numbers.

``configparser`` merges or rejects repeated sections without saying where the
first one was, and forgets on which line a value stood. Operators fix config
files by line number, so this reader keeps every position it sees.

The dialect: ``[section]`` headers, ``key=value`` or ``key: value`` lines,
whole-line comments starting with ``#`` or ``;``, keys case-insensitive,
values optionally in single or double quotes, lists as ``["a", "b"]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vmim.errors import ConfigError

_SECTION = re.compile(r"^\[(?P<name>[^\]]*)\]\s*$")
_ENTRY = re.compile(r"^(?P<key>[A-Za-z0-9_.\-]+)\s*[=:]\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class Entry:
    key: str
    raw: str
    line: int


@dataclass
class Section:
    name: str
    line: int
    entries: dict[str, Entry] = field(default_factory=dict)


def parse(text: str, path: str) -> list[Section]:
    """Split ``text`` into sections; a repeated section or key is an error."""
    sections: list[Section] = []
    seen: dict[str, Section] = {}
    current: Section | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = _SECTION.match(stripped)
        if header:
            name = header.group("name").strip()
            if not name:
                raise ConfigError(f"{path}:{number}: empty section name '[]'")
            first = seen.get(name.lower())
            if first is not None:
                raise ConfigError(
                    f"{path}:{number}: section [{name}] appears twice "
                    f"(lines {first.line} and {number})",
                    "give each slot section its own name, e.g. [vmim.vm.3]",
                )
            current = Section(name=name, line=number)
            seen[name.lower()] = current
            sections.append(current)
            continue
        entry = _ENTRY.match(stripped)
        if entry is None:
            raise ConfigError(
                f"{path}:{number}: cannot read this line: {_shorten(stripped)}",
                "expected '[section]' or 'key = value'",
            )
        if current is None:
            raise ConfigError(
                f"{path}:{number}: key '{entry.group('key')}' stands before any [section]"
            )
        key = entry.group("key").lower()
        earlier = current.entries.get(key)
        if earlier is not None:
            raise ConfigError(
                f"{path}:{number}: key '{entry.group('key')}' appears twice in "
                f"[{current.name}] (lines {earlier.line} and {number})"
            )
        current.entries[key] = Entry(key=key, raw=entry.group("value"), line=number)
    return sections


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unquote(raw: str) -> str:
    """Strip one pair of matching quotes; an unbalanced quote is left for the caller."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def is_list(raw: str) -> bool:
    return raw.startswith("[")


def parse_list(raw: str) -> list[str]:
    """Parse ``["a", 'b', c]``; raise ``ValueError`` with the reason when malformed."""
    if not (raw.startswith("[") and raw.endswith("]")):
        raise ValueError("a list must start with '[' and end with ']'")
    body = raw[1:-1].strip()
    if not body:
        return []
    items: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char in "\"'":
            end = body.find(char, position + 1)
            if end < 0:
                raise ValueError(f"unclosed quote {char} in list")
            items.append(body[position + 1 : end])
            position = end + 1
        else:
            end = body.find(",", position)
            end = len(body) if end < 0 else end
            item = body[position:end].strip()
            if not item or any(q in item for q in "\"'[]"):
                raise ValueError(f"malformed list item {item!r}")
            items.append(item)
            position = end
        rest = body[position:].lstrip()
        if not rest:
            break
        if not rest.startswith(","):
            raise ValueError(f"expected ',' between list items, found {rest[:10]!r}")
        position = len(body) - len(rest) + 1
        while position < len(body) and body[position].isspace():
            position += 1
        if position >= len(body):
            raise ValueError("list ends with ','")
    return items
