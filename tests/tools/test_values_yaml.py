"""Bounded reading of values files: hostile YAML ends in a message naming the spot, quickly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from journal_k8s import rules
from journal_tools import values_yaml
from journal_tools.values import ValuesError, load_environments
from journal_tools.values_yaml import YamlError, read_mapping
from support import ROOT


def alias_bomb(levels: int) -> str:
    """A "billion laughs": each level is ten aliases of the level below (10**levels values)."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def test_reads_yaml_1_2_with_the_line_of_every_key(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("a:\n  b: 0o17\n  c: [1.5, '0777', ~]\nd: true\n")
    data, lines = read_mapping(path)
    assert data == {"a": {"b": 15, "c": [1.5, "0777", None]}, "d": True}
    assert lines[("a", "b")] == 2 and lines[("a", "c", 1)] == 3 and lines[("d",)] == 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", ":4: b.c: duplicate key (first at line 3)"),
        ("a: {x: 1}\nb:\n  <<: {x: 1}\n", ":3: b: merge keys (<<) are not allowed"),
        ("a: &x [*x]\n", ":1: a.0: an alias refers to a value that contains it"),
        ("a: !!python/object:os.system x\n", ":1: a: the tag"),
        ("a: !custom x\n", ":1: a: the tag '!custom' is not allowed"),
        ("a: !!bool maybe\n", ":1: a: 'maybe' is not a valid value"),
        ("a: !!int ''\n", ":1: a: '' is not a valid value"),
        ("a: !!float x\n", ":1: a: 'x' is not a valid value"),
        ("a: 0777\n", ":1: a: '0777' reads differently in YAML 1.1 and 1.2: quote it"),
        ("a: 1:00\n", ":1: a: '1:00' reads differently in YAML 1.1 and 1.2"),
        ("a: [yes, no]\n", ":1: a.0: 'yes' reads differently"),
        ("a: {b: off}\n", ":1: a.b: 'off' reads differently"),
        ("a: 1_000\n", ":1: a: '1_000' reads differently"),
        ("a: 0b101\n", ":1: a: '0b101' reads differently"),
        ("a: 1\n---\nb: 2\n", ": invalid YAML at line 2, column 1: but found another document"),
        ("{1: a}\n", ":1: a key must be text"),
        ("[1, 2]\n", ": the top level is a list: expected a mapping of values"),
        ("", ": the file is empty"),
        ("a: 1\x00\n", ": invalid YAML: character #x0000 at offset 4: control characters are not"),
        ("\ufeffa: 1\n  b: 2\n", ": invalid YAML at line 2, column 4: mapping values are not"),
        ("[" * 32_000 + "]" * 32_000, ":1: nested deeper than 32 levels"),
        ("a: " + "[" * 40 + "]" * 40, ":1: nested deeper than 32 levels"),
        (
            "b: &b " + "[" * 20 + "1" + "]" * 20 + "\na: " + "[" * 20 + "*b" + "]" * 20 + "\n",
            ":1: a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0…: nested deeper than "
            "32 levels through aliases",
        ),
        (alias_bomb(9), ": more than 10000 values once aliases are expanded"),
    ],
)
def test_fails_on_hostile_yaml_naming_the_spot(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(content)
    with pytest.raises(YamlError) as error:
        read_mapping(path)
    assert f"{path}{expected}" in str(error.value) or expected in str(error.value)
    assert str(path) in str(error.value)
    assert len(str(error.value)) < 300


def test_fails_on_a_file_too_large_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("a: " + "x" * values_yaml.MAX_FILE_BYTES + "\n")
    with pytest.raises(YamlError, match="larger than 64 KiB"):
        read_mapping(path)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fails_on_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "v.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(YamlError, match="not a regular file"):
        read_mapping(path)


def test_never_quotes_the_contents_of_a_file(tmp_path: Path) -> None:
    """A values file linked to a password file: the message says what is wrong, not its text."""
    hashes = "".join(
        f"user{i}:$6$FAKEHASH{i:04d}salt$abcdef:19000:0:99999:7:::\n" for i in range(40)
    )
    target = tmp_path / "shadow"
    target.write_text(hashes)
    (tmp_path / "dev.yaml").symlink_to(target)
    with pytest.raises(ValuesError) as error:
        load_environments(tmp_path)
    message = str(error.value)
    assert "FAKEHASH" not in message and "user0" not in message
    assert "<not a key name>: unknown key" in message
    assert message.count("\n") <= 11  # ten problems, then how many more
    target.write_bytes(b"a: \xff\xfe FAKEHASH\n")
    with pytest.raises(ValuesError, match="not UTF-8 text") as error:
        load_environments(tmp_path)
    assert "FAKEHASH" not in str(error.value)


def test_reads_a_file_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("a: 1\n")
    first = read_mapping(path)
    assert read_mapping(path) is first
    path.write_text("a: 2\n")
    assert read_mapping(path)[0] == {"a": 2}


def test_shortens_long_values() -> None:
    assert rules.shown("x" * 1000) == "'" + "x" * 58 + "…"
    assert rules.shown("short") == "'short'"


def test_an_alias_bomb_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """A 9-level bomb (10**9 values) through the whole values loader, in a fresh process.

    Its peak memory is ``VmHWM``, that of the process image since ``exec``: ``ru_maxrss``
    keeps the peak of the (large) test process it was forked from."""
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "dev.yaml").write_text(alias_bomb(9))
    child = (
        "import json, sys, time\n"
        "from journal_tools.values import ValuesError, load_environments\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    load_environments(__import__('pathlib').Path(sys.argv[1]))\n"
        "except ValuesError as error:\n"
        "    message = str(error)\n"
        "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, 'message': message,\n"
        "    'rss_mib': int(peak.split()[1]) / 1024}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child, str(environments)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    measured = json.loads(result.stdout)
    assert "more than 10000 values once aliases are expanded" in measured["message"]
    assert measured["seconds"] < 5
    assert measured["rss_mib"] < 500
    print(f"alias bomb: {measured['seconds'] * 1000:.0f} ms, {measured['rss_mib']:.0f} MiB")


def test_fails_on_a_values_file_that_leads_outside_the_folder_without_reading_it(
    tmp_path: Path,
) -> None:
    """A link to a secret outside environments/: refused by name, its content never read."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("namespace: FAKESECRET\n")
    folder = tmp_path / "environments"
    folder.mkdir()
    (folder / "dev.yaml").symlink_to(secret)
    with pytest.raises(ValuesError) as error:
        load_environments(folder)
    message = str(error.value)
    assert message.startswith(f"{folder / 'dev.yaml'}: leads outside {folder}/ (a link)")
    assert "FAKESECRET" not in message and str(secret) not in message
    (folder / "_base.yaml").symlink_to(secret)  # a layer alike
    (folder / "dev.yaml").unlink()
    (folder / "dev.yaml").write_text("namespace: journal-dev\n")
    with pytest.raises(ValuesError, match=r"_base\.yaml: leads outside"):
        load_environments(folder)


def test_a_link_within_the_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", folder)
    staging = (folder / "staging.yaml").read_text()
    (folder / "qa-values.txt").write_text(staging.replace("journal-staging", "journal-qa"))
    (folder / "qa.yaml").symlink_to("qa-values.txt")
    (folder / "staging.yaml").unlink()
    assert [e.name for e in load_environments(folder)] == ["dev", "prod", "qa"]
