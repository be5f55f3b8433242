"""``make diff``: how two environments' synthesized manifests differ, field by field.

Objects are matched by kind and name. The namespace differs by design, so it is shown once
in the header and ignored on every object. List items that all carry a unique ``name``
(containers, env, volumes, ports) are matched by that name rather than by position.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from journal_k8s.grammar import is_dns_label
from journal_k8s.rules import shown

from .manifests import from_yaml

Manifest = dict[str, Any]
Key = tuple[str, str]
"""An object's identity across environments: (kind, name)."""
PathPart = str | int | tuple[str, str]
"""A mapping key, a list index, or ``("name", value)`` for a list item matched by name."""

ABSENT = notpresent
"""What a ``Change`` holds on the side that lacks the field."""
MAX_VALUE_CHARS = 100
MAX_DIFF_LINES = 20
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ManifestsError(Exception):
    """An environment's manifests are missing or unreadable; the message names the file."""


@dataclass(frozen=True)
class EnvironmentManifests:
    """One environment's objects keyed by kind and name, without their namespace."""

    namespaces: tuple[str, ...]
    objects: dict[Key, Manifest]


@dataclass(frozen=True)
class Change:
    """One field that differs; ``ABSENT`` on the side that lacks it."""

    path: tuple[PathPart, ...]
    before: Any
    after: Any


@dataclass(frozen=True)
class Comparison:
    """Two environments compared: changed objects, in order, and objects on one side only."""

    before: EnvironmentManifests
    after: EnvironmentManifests
    changed: list[tuple[Key, list[Change]]]
    removed: list[Key]
    added: list[Key]
    identical: int


def read_manifests(folder: Path) -> list[Manifest]:
    """Every object of ``folder/*.yaml``, files in name order.

    Raises:
        ManifestsError: the folder has no ``*.yaml`` file, or a file is not manifests.
    """
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ManifestsError(
            f"{folder}: no synthesized manifests (*.yaml) found: run 'make synth' first"
        )
    objects: list[Manifest] = []
    for file in files:
        try:
            documents = from_yaml(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ManifestsError(f"{file}: cannot be read: {error}") from None
        for number, document in enumerate(documents, start=1):
            metadata = document.get("metadata") if isinstance(document, dict) else None
            if not isinstance(metadata, dict) or not metadata.get("name") or "kind" not in document:
                raise ManifestsError(
                    f"{file}: document {number} is not a Kubernetes object "
                    "(expected a mapping with kind and metadata.name)"
                )
        objects += documents
    return objects


def load(folder: Path) -> EnvironmentManifests:
    """Read ``folder`` and key its objects (see ``keyed``).

    Raises:
        ManifestsError: see ``read_manifests``; or two objects share a kind and name.
    """
    return keyed(read_manifests(folder), folder)


def keyed(objects: Sequence[Manifest], source: Path) -> EnvironmentManifests:
    """Key objects by kind and name, dropping ``metadata.namespace``.

    A lone Namespace object is keyed by its kind alone, so that it matches across environments.

    Raises:
        ManifestsError: two objects share a kind and name (``source`` says where they are).
    """
    lone_namespace = sum(o["kind"] == "Namespace" for o in objects) == 1
    namespaces: set[str] = set()
    result: dict[Key, Manifest] = {}
    for manifest in objects:
        metadata = dict(manifest["metadata"])
        namespace = metadata.pop("namespace", None)
        if namespace:
            namespaces.add(namespace)
        name = metadata["name"]
        if manifest["kind"] == "Namespace":
            namespaces.add(name)
            if lone_namespace:
                name = ""
                del metadata["name"]
        key = (manifest["kind"], name)
        if key in result:
            raise ManifestsError(f"{source}: two objects are {_label(key)}: expected one")
        result[key] = {**manifest, "metadata": metadata}
    return EnvironmentManifests(namespaces=tuple(sorted(namespaces)), objects=result)


def compare(before: EnvironmentManifests, after: EnvironmentManifests) -> Comparison:
    """Compare two environments object by object, in the order of ``before`` then ``after``."""
    changed = []
    identical = 0
    for key, manifest in before.objects.items():
        if key not in after.objects:
            continue
        changes = diff_objects(manifest, after.objects[key])
        if changes:
            changed.append((key, changes))
        else:
            identical += 1
    return Comparison(
        before=before,
        after=after,
        changed=changed,
        removed=[k for k in before.objects if k not in after.objects],
        added=[k for k in after.objects if k not in before.objects],
        identical=identical,
    )


def diff_objects(before: Manifest, after: Manifest) -> list[Change]:
    """The fields that differ between two versions of one object, sorted by path."""
    tree = DeepDiff(
        _match_by_name(before), _match_by_name(after), view="tree", threshold_to_diff_deeper=0
    )
    changes = [
        Change(
            path=tuple(level.path(output_format="list")),
            before=_unmatch(level.t1),
            after=_unmatch(level.t2),
        )
        for levels in tree.values()
        for level in levels
    ]
    return sorted(changes, key=lambda c: [_sort_key(p) for p in c.path])


def _match_by_name(value: Any) -> Any:
    """Turn lists of uniquely named mappings into mappings keyed ``("name", name)``.

    An item's name is its ``name``, else its ``metadata.name`` (claim templates).
    """
    if isinstance(value, dict):
        return {k: _match_by_name(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_match_by_name(v) for v in value]
        names = [_name(v) for v in items]
        if items and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return {("name", n): v for n, v in zip(names, items, strict=True)}
        return items
    return value


def _unmatch(value: Any) -> Any:
    """Undo ``_match_by_name``: the value as it is in the manifest."""
    if isinstance(value, dict):
        if value and all(isinstance(k, tuple) for k in value):
            return [_unmatch(v) for v in value.values()]
        return {k: _unmatch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmatch(v) for v in value]
    return value


def _sort_key(part: PathPart) -> tuple[int, str, int]:
    if isinstance(part, int):
        return (0, "", part)
    return (1, part if isinstance(part, str) else part[1], 0)


def format_path(path: Sequence[PathPart]) -> str:
    """``spec.template.spec.containers[name=api].env[name=PORT].value`` style."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, tuple):
            text += f"[{part[0]}={part[1]}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def format_value(value: Any) -> str:
    """One line: YAML flow style, ``(absent)``, or a line count for multi-line text."""
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, str) and "\n" in value:
        return f"(text, {len(value.splitlines())} lines)"
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False)
    text = text.strip().removesuffix("\n...")
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


class _Style:
    """ANSI colours when enabled, plain text otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def object(self, text: str) -> str:
        return self._paint("1;36", text)

    def old(self, text: str) -> str:
        return self._paint("31", text)

    def new(self, text: str) -> str:
        return self._paint("32", text)

    def faint(self, text: str) -> str:
        return self._paint("2", text)


def render(
    comparison: Comparison, names: tuple[str, str], folders: tuple[Path, Path], colour: bool
) -> Iterator[str]:
    """The report's lines: header, namespace, one line per changed field, then a summary."""
    style = _Style(colour)
    yield style.bold(f"{names[0]} → {names[1]}  ({folders[0]} → {folders[1]})")
    before_ns = ", ".join(comparison.before.namespaces) or "(none)"
    after_ns = ", ".join(comparison.after.namespaces) or "(none)"
    if before_ns == after_ns:
        yield f"namespace: {before_ns} (both)"
    else:
        yield f"namespace: {style.old(before_ns)} → {style.new(after_ns)}"
    for key, changes in comparison.changed:
        yield ""
        for change in changes:
            yield from _render_change(style, _label(key), change)
    if comparison.removed or comparison.added:
        yield ""
    for key in comparison.removed:
        yield style.old(f"- {_label(key)}") + f"  only in {names[0]}"
    for key in comparison.added:
        yield style.new(f"+ {_label(key)}") + f"  only in {names[1]}"
    yield ""
    if not (comparison.changed or comparison.removed or comparison.added):
        yield f"no differences ({comparison.identical} objects)"
    else:
        yield (
            f"{len(comparison.changed)} changed, {len(comparison.removed)} only in {names[0]}, "
            f"{len(comparison.added)} only in {names[1]}, {comparison.identical} identical"
        )


def _render_change(style: _Style, label: str, change: Change) -> Iterator[str]:
    """One line per field; multi-line text as a short unified diff."""
    prefix = f"{style.object(label)}  {format_path(change.path)}: "
    before, after = change.before, change.after
    if not (isinstance(before, str) and isinstance(after, str) and "\n" in before + after):
        yield prefix + f"{style.old(format_value(before))} → {style.new(format_value(after))}"
        return
    old_lines, new_lines = before.splitlines(), after.splitlines()
    yield prefix + f"text changed ({len(old_lines)} → {len(new_lines)} lines)"
    hunks = list(difflib.unified_diff(old_lines, new_lines, n=1, lineterm=""))[2:]
    for line in hunks[:MAX_DIFF_LINES]:
        painted = {"-": style.old, "+": style.new, "@": style.faint}.get(line[:1], str)
        yield "    " + painted(line)
    if len(hunks) > MAX_DIFF_LINES:
        yield "    " + style.faint(f"… {len(hunks) - MAX_DIFF_LINES} more diff lines")


def _label(key: Key) -> str:
    return f"{key[0]}/{key[1]}" if key[1] else key[0]


def _name(item: Any) -> str | None:
    """``item["name"]``, else ``item["metadata"]["name"]``, if it is text."""
    if not isinstance(item, dict):
        return None
    metadata = item.get("metadata")
    name = item.get("name", metadata.get("name") if isinstance(metadata, dict) else None)
    return name if isinstance(name, str) else None


def use_colour(choice: str) -> bool:
    """``--color``: ``auto`` means on a terminal, unless ``NO_COLOR`` is set."""
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make diff``: print the comparison; exit 0, or 1 if a side is missing."""
    parser = argparse.ArgumentParser(
        description="Compare two environments' synthesized manifests, field by field."
    )
    parser.add_argument("before", metavar="FROM", help="environment name, e.g. dev")
    parser.add_argument("after", metavar="TO", help="environment name, e.g. prod")
    parser.add_argument(
        "--dist", type=Path, default=Path("dist"), help="synth output folder (default: dist)"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto (the default): colour on a terminal unless NO_COLOR is set",
    )
    arguments = parser.parse_args(argv)
    for side, name in (("FROM", arguments.before), ("TO", arguments.after)):
        if not is_dns_label(name):
            print(
                f"diff failed: {side}={shown(name)} is not allowed: expected an environment "
                "name (lower-case letters, digits and '-'), e.g. make diff FROM=dev TO=prod",
                file=sys.stderr,
            )
            return 1
    folders = (arguments.dist / arguments.before, arguments.dist / arguments.after)
    for side, folder in (("FROM", folders[0]), ("TO", folders[1])):
        if not folder.is_dir() and arguments.dist.is_dir():
            known = sorted(f.parent.name for f in arguments.dist.glob("*/*.k8s.yaml"))
            print(
                f"diff failed: {side}={folder.name}: no such environment in {arguments.dist}/: "
                f"expected one of {', '.join(known) or '(none: run make synth)'}",
                file=sys.stderr,
            )
            return 1
    try:
        before, after = load(folders[0]), load(folders[1])
    except ManifestsError as error:
        print(f"diff failed: {error}", file=sys.stderr)
        return 1
    lines = render(
        compare(before, after),
        (arguments.before, arguments.after),
        folders,
        use_colour(arguments.color),
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
