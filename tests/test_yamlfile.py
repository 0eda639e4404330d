"""The bounded YAML reader: one rule per test, asserting file, line and message."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.yamlfile import MAX_BYTES, MAX_DEPTH, read_yaml


def problems(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "f.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as info:
        read_yaml(path)
    return info.value.render()


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    msg = problems(tmp_path, "name: a\nload:\n  users: 1\n  users: 2\n")
    assert msg == f"{tmp_path / 'f.yaml'}:4: key 'users' is given twice (first on line 3); YAML would silently keep only the last one"


def test_a_merge_key_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n")
    assert read_yaml(path).data["c"] == {"x": 1, "y": 2}


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_nan_and_infinities_are_refused_anywhere(tmp_path: Path, value: str) -> None:
    assert ":2: " in problems(tmp_path, f"a: 1\nload: {{duration: {value}}}\n")


def test_an_integer_beyond_64_bits_is_refused(tmp_path: Path) -> None:
    assert "beyond a 64-bit integer" in problems(tmp_path, "seed: 18446744073709551616\n")
    assert "beyond a 64-bit integer" in problems(tmp_path, "seed: " + "9" * 5000 + "\n")


def test_deep_nesting_is_refused_at_the_cap_and_far_beyond(tmp_path: Path) -> None:
    n = MAX_DEPTH + 1
    assert f"nested deeper than {MAX_DEPTH} levels" in problems(tmp_path, "a: " + "[" * n + "]" * n)
    assert "nested deeper" in problems(tmp_path, "a: " + "[" * 100_000 + "]" * 100_000)


def test_an_alias_bomb_is_refused_before_anything_walks_it(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    assert "counting each alias as what it expands to (an alias bomb?)" in problems(tmp_path, "\n".join(lines) + "\n")


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert ":1: invalid YAML: an alias refers to a node that contains it" in problems(tmp_path, "a: &a [1, *a]\n")


def test_a_file_over_the_cap_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    assert "larger than 256 KiB" in problems(tmp_path, b"# " + b"x" * MAX_BYTES + b"\n")


def test_a_nul_in_a_value_is_refused(tmp_path: Path) -> None:
    assert ":1: a NUL character is not allowed" in problems(tmp_path, 'a: "x\\0y"\n')


def test_a_control_character_gives_a_line_not_an_offset(tmp_path: Path) -> None:
    msg = problems(tmp_path, b"a: 1\nb: 2\nc: \x07\n")
    assert ":3: invalid YAML: character '\\x07' (U+0007) is not allowed" in msg and "position" not in msg


def test_bytes_that_are_not_utf8_give_their_line(tmp_path: Path) -> None:
    assert ":2: not UTF-8 text (byte 0xff)" in problems(tmp_path, b"a: 1\nb: \xff\n")


def test_a_scanner_error_gives_the_line_and_what_the_parser_was_doing(tmp_path: Path) -> None:
    msg = problems(tmp_path, "a: [1, 2\nb: 3\n")
    assert msg.endswith(":2: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)")


@pytest.mark.parametrize("kind", ["fifo", "dev", "dir"])
def test_special_files_are_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    path = {"fifo": tmp_path / "p", "dev": Path("/dev/zero"), "dir": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(InputError) as info:
        read_yaml(path, what="experiment file")
    assert "not a regular file" in str(info.value)


def test_a_proc_file_is_read_within_the_cap(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_yaml("/proc/self/environ")
    assert "/proc/self/environ:1: invalid YAML" in str(info.value)
