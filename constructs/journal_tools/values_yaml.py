"""Bounded reading of one values file: YAML 1.2 into plain data, with the line of every key.

The work and memory are bounded by fixed limits, checked before anything is built:

- the file is a regular file of at most ``MAX_FILE_BYTES`` bytes (a FIFO or a link to a
  device is refused, and never more is read);
- nesting is at most ``MAX_DEPTH`` levels (the composer's recursion is cut far below Python's
  limit, whatever the input);
- aliases are expanded within ``MAX_NODES`` nodes in all, so a "billion laughs" stops early,
  and an alias inside its own anchor is refused.

Duplicate keys, merge keys (``<<``), tags other than YAML's core ones and several documents
are refused. libyaml (PyYAML's C parser) parses; scalars follow YAML 1.2's core schema
(yamlcore, PyYAML's own YAML 1.2 schema); a plain scalar that YAML 1.1 (Helm, older tools)
reads differently (``yes``/``no``/``on``/``off``, ``0777``, ``1:00``, ``1_000``,
``0b101``) is refused: quote it.
Messages name the file, the line and the key path; of the file's text they quote only
the value at fault, shortened, and key names that look like key names.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yamlcore import CCoreLoader

from journal_k8s.rules import SHOWN_CHARS, cut, shown

MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_NODES = 10_000

KeyPath = tuple[str | int, ...]
Lines = dict[KeyPath, int]

_CACHE: dict[tuple[int, ...], tuple[dict[str, Any], Lines]] = {}
"""Files already read, by identity: ``make watch`` parses only what changed. Never mutated."""
_CACHE_SIZE = 64

_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}
_YAML11_ONLY = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF"  # booleans in YAML 1.1
    r"|[-+]?0[0-7_]+"  # octal in YAML 1.1, decimal in 1.2
    r"|[-+]?0b[01_]+"  # binary
    r"|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?"  # sexagesimal: 1:00 is 60
    r"|[-+]?[0-9][0-9_.]*_[0-9_.]*([eE][-+]?[0-9]+)?"  # digit separators
)


class YamlError(Exception):
    """A values file cannot be read as bounded YAML; the message names the file and line."""


def format_key(key: KeyPath) -> str:
    """A key path as dotted text; a part that is no plausible key name is not shown.

    So a file that is not a values file (a password file read as YAML keys) is not echoed.
    """
    parts = [
        str(part) if isinstance(part, int) or _KEY_NAME.fullmatch(part) else "<not a key name>"
        for part in key
    ]
    return cut(".".join(parts) or "(top level)")


def read_text(path: Path, within: Path | None = None) -> tuple[str, tuple[int, ...]]:
    """The UTF-8 text of a regular file of at most ``MAX_FILE_BYTES`` bytes, and its identity.

    The identity (device, inode, size, modification and change times) changes with the file.

    Args:
        path: the file.
        within: a folder the file must lie in once every link is followed (the file that
            was opened is checked, before a byte is read). Default: anywhere.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            status = os.fstat(file.fileno())
            if within is not None:
                opened = os.readlink(f"/proc/self/fd/{file.fileno()}")
                if os.path.commonpath([opened, os.path.realpath(within)]) != os.path.realpath(
                    within
                ):
                    raise YamlError(
                        f"{path}: leads outside {within}/ (a link): not read; values files "
                        f"must be files of {within}/"
                    )
            if not stat.S_ISREG(status.st_mode):
                raise YamlError(f"{path}: not a regular file: expected a YAML values file")
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise YamlError(f"{path}: cannot be read: {error.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise YamlError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a values file")
    identity = (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )
    try:
        return data.decode("utf-8"), identity
    except UnicodeDecodeError as error:
        raise YamlError(f"{path}: not UTF-8 text (invalid byte at offset {error.start})") from None


def read_mapping(path: Path, within: Path | None = None) -> tuple[dict[str, Any], Lines]:
    """Parse ``path`` into a mapping of plain data, with the line of every key path.

    Args:
        path: the file.
        within: a folder the file must lie in, links followed (see ``read_text``).

    Raises:
        YamlError: naming the file, the line and the key path.
    """
    text, identity = read_text(path, within)
    if identity in _CACHE:
        return _CACHE[identity]
    loader = CCoreLoader(text)
    try:
        _within_depth(path, text)
        node = loader.get_single_node()
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = error.problem or error.context or "malformed"
        raise YamlError(f"{path}: invalid YAML{where}: {problem}") from None
    except ReaderError as error:
        raise YamlError(
            f"{path}: invalid YAML: character #x{error.character:04x} at offset "
            f"{error.position}: {error.reason}"
        ) from None
    except YAMLError as error:
        raise YamlError(f"{path}: invalid YAML: {type(error).__name__}") from None
    if node is None:
        raise YamlError(f"{path}: the file is empty: expected a mapping of values")
    builder = _Builder(path, loader)
    data = builder.build(node, (), set())
    if not isinstance(data, dict):
        kind = {list: "list"}.get(type(data), type(data).__name__)
        raise YamlError(f"{path}: the top level is a {kind}: expected a mapping of values")
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[identity] = data, builder.lines
    return _CACHE[identity]


def _within_depth(path: Path, text: str) -> None:
    """Refuse ``text`` nested deeper than ``MAX_DEPTH``, from its events, before it is composed:
    libyaml composes in C, one native stack frame per level, with no limit of its own."""
    depth = 0
    for event in yaml.parse(text, Loader=CCoreLoader):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line if event.start_mark is not None else 0
                raise _at(path, line, (), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _at(path: Path, line: int, key: KeyPath, problem: str) -> YamlError:
    """The error of ``problem`` at ``line`` (counted from 0), for the value at ``key`` (if any)."""
    where = f"{path}:{line + 1}"
    return YamlError(f"{where}: {format_key(key)}: {problem}" if key else f"{where}: {problem}")


class _Builder:
    """Plain data from a node graph, aliases expanded within the budget."""

    def __init__(self, path: Path, loader: CCoreLoader) -> None:
        self.path = path
        self.constructor = loader
        self.lines: Lines = {}
        self.nodes = 0

    def fail(self, node: Node, key: KeyPath, problem: str) -> YamlError:
        return _at(self.path, node.start_mark.line, key, problem)

    def build(self, node: Node, key: KeyPath, ancestors: set[int]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, key, f"more than {MAX_NODES} values once aliases are expanded")
        if len(key) > MAX_DEPTH:
            raise self.fail(node, key, f"nested deeper than {MAX_DEPTH} levels through aliases")
        if id(node) in ancestors:
            raise self.fail(node, key, "an alias refers to a value that contains it")
        if isinstance(node, ScalarNode):
            return self.scalar(node, key)
        inner = ancestors | {id(node)}
        if isinstance(node, SequenceNode) and node.tag == f"{_CORE}seq":
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*key, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*key, index), inner))
            return items
        if isinstance(node, MappingNode) and node.tag == f"{_CORE}map":
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                name = self.key(key_node, key)
                child = (*key, name)
                if name in mapping:
                    first = self.lines[child]
                    raise self.fail(key_node, child, f"duplicate key (first at line {first})")
                self.lines[child] = key_node.start_mark.line + 1
                mapping[name] = self.build(value_node, child, inner)
            return mapping
        raise self.fail(node, key, f"the tag {shown(node.tag)} is not allowed: use plain YAML")

    def key(self, node: Node, parent: KeyPath) -> str:
        if isinstance(node, ScalarNode) and not node.style and node.value == "<<":
            raise self.fail(node, parent, "merge keys (<<) are not allowed: write the keys out")
        value = self.build(node, parent, set()) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str):
            raise self.fail(node, parent, "a key must be text")
        self.nodes -= 1  # a key is part of its entry
        return value

    def scalar(self, node: ScalarNode, key: KeyPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, key, f"the tag {shown(node.tag)} is not allowed")
        if not node.style and _YAML11_ONLY.fullmatch(node.value):  # plain: libyaml's style ""
            raise self.fail(
                node,
                key,
                f"{shown(node.value)} reads differently in YAML 1.1 and 1.2: "
                f"quote it ('{node.value[:SHOWN_CHARS]}') if it is text, else write it plainly",
            )
        try:
            return self.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, LookupError):
            raise self.fail(node, key, f"{shown(node.value)} is not a valid value") from None
