"""Read a mapping file's YAML keeping the line of every key and value, for errors that point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.errors import ConfigProblem


class YamlMap(dict):
    """A YAML mapping that remembers the line of each key and of each value's first text line."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]


class YamlSeq(list):
    """A YAML sequence that remembers the line of each item."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader building ``YamlMap``/``YamlSeq``, noting duplicate keys instead of hiding them."""

    duplicates: list[tuple[Any, int]]


def _content_line(node: yaml.Node) -> int:
    # A block scalar (| or >) starts on the line after its indicator; templates count from there.
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1
    return line


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> YamlMap:
    loader.flatten_mapping(node)
    out = YamlMap()
    out.line = node.start_mark.line + 1
    out.key_lines, out.value_lines = {}, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if key in out:
            loader.duplicates.append((key, key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        out.value_lines[key] = _content_line(value_node)
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> YamlSeq:
    out = YamlSeq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [_content_line(child) for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) < 60 else "a long text"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def key_line(m: Any, key: Any, default: int | None) -> int | None:
    return getattr(m, "key_lines", {}).get(key, default)


def value_line(m: Any, key: Any, default: int | None) -> int | None:
    return getattr(m, "value_lines", {}).get(key, default)


def parse_file(path: Path, problems: list[ConfigProblem]) -> YamlMap | None:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(file, "", "a readable UTF-8 file", str(exc)))
        return None
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        found = " ".join(p for p in (exc.context, exc.problem) if p)
        problems.append(
            ConfigProblem(file, "", "valid YAML", found, None if mark is None else mark.line + 1)
        )
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(file, "", "valid YAML", str(exc)))
        return None
    finally:
        loader.dispose()
    for key, line in loader.duplicates:
        problems.append(ConfigProblem(file, str(key), "each key once", "the key again", line))
    if data is None:
        return empty_map()
    if not isinstance(data, YamlMap):
        problems.append(ConfigProblem(file, "", "a mapping of sections", describe(data), 1))
        return None
    return data


def empty_map() -> YamlMap:
    out = YamlMap()
    out.line, out.key_lines, out.value_lines = 1, {}, {}
    return out
