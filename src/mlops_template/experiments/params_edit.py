"""Put proposed `train.model` values into params.yaml line by line, keeping every comment and line.

A YAML round trip would drop the comments that document each key, so this edits the text: a
changed key's value is replaced in place (its comment stays, at its column where it fits), a key
the file leaves to its default is added at the end of the block, and a key of another family is
removed when the family changes. Anything else (a flow mapping `model: {...}`, a nested value, a
quoted or multi-line scalar it would have to touch, two `train:` sections) is refused, as is any
result that does not load back to exactly the proposed params with every other key unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

from mlops_template.core.errors import MlopsTemplateError

Scalar = bool | int | float | str | None

_TOP = re.compile(r"^train:[ \t]*(#.*)?$")
_MODEL = re.compile(r"^(?P<indent>[ ]+)model:[ \t]*(#.*)?$")
_KEY = re.compile(
    r"^(?P<indent>[ ]+)(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<gap>[ ]+)(?P<value>[^#\s'\"{}\[\]|>&*!][^#]*?)"
    r"(?P<comment>[ \t]+#.*)?$"
)


class ParamsEditError(MlopsTemplateError):
    """params.yaml's `train.model` is written in a way the line editor does not change safely."""


def scalar_text(value: Scalar) -> str:
    """A scalar as YAML writes it (`0.0734`, `1.0e-05`, `null`, `balanced`)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
    return dumped.split("\n", 1)[0]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    """A line that holds a key (not blank, not only a comment)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


@dataclass(frozen=True)
class _Block:
    model_line: int  # index of `  model:`
    key_indent: str
    keys: dict[str, int]  # key -> line index
    last: int  # index of the block's last key line


def _find_block(lines: list[str], where: str) -> _Block:
    tops = [i for i, line in enumerate(lines) if _TOP.match(line)]
    if len(tops) != 1:
        msg = f"{where}: found {len(tops)} `train:` lines at the top level (rule: exactly one, in block style)"
        raise ParamsEditError(msg)
    end = next((i for i in range(tops[0] + 1, len(lines)) if _content(lines[i]) and _indent(lines[i]) == 0), len(lines))
    train = range(tops[0] + 1, end)
    children = [i for i in train if _content(lines[i])]
    child_indent = min((_indent(lines[i]) for i in children), default=0)
    models = [i for i in children if _indent(lines[i]) == child_indent and lines[i].strip().startswith("model:")]
    matched = _MODEL.match(lines[models[0]]) if len(models) == 1 else None
    if matched is None:
        msg = f"{where}: train.model is not a block mapping `model:` on a line of its own (rule: block style)"
        raise ParamsEditError(msg)
    model_indent = len(matched.group("indent"))
    keys: dict[str, int] = {}
    key_indent: str | None = None
    for i in range(models[0] + 1, end):
        line = lines[i]
        if not _content(line):
            continue
        if _indent(line) <= model_indent:
            break
        found = _KEY.match(line.rstrip("\n"))
        if key_indent is None and found:
            key_indent = found.group("indent")
        if found is None or found.group("indent") != key_indent:
            msg = f"{where}: line {i + 1} of train.model is not `key: plain value` ({line.strip()!r})"
            raise ParamsEditError(msg)
        keys[found.group("key")] = i
    if key_indent is None:
        msg = f"{where}: train.model holds no `key: value` line"
        raise ParamsEditError(msg)
    return _Block(model_line=models[0], key_indent=key_indent, keys=keys, last=max(keys.values()))


def _replace_value(line: str, value: Scalar) -> str:
    found = _KEY.match(line.rstrip("\n"))
    if found is None:  # _find_block matched it already
        msg = f"cannot read {line!r}"
        raise ParamsEditError(msg)
    newline = "\n" if line.endswith("\n") else ""
    head = f"{found.group('indent')}{found.group('key')}:{found.group('gap')}{scalar_text(value)}"
    comment = found.group("comment")
    if comment is None:
        return head + newline
    text = comment.lstrip(" \t")
    column = found.start("comment") + len(comment) - len(text)  # where the comment's `#` was
    return (head.ljust(column) if len(head) < column else f"{head} ") + text + newline


def set_model(text: str, changes: Mapping[str, Scalar], removed: Iterable[str] = (), where: str = "params.yaml") -> str:
    """`text` with the `changes` to `train.model` made, and the `removed` keys (another family's) gone.

    Only those lines change: a changed key's value in place, a key the file left to its default
    added at the end of the block. Raises ParamsEditError when it cannot place a change.
    """
    lines = text.splitlines(keepends=True)
    block = _find_block(lines, where)
    out = list(lines)
    for key, value in changes.items():
        if key in block.keys:
            out[block.keys[key]] = _replace_value(lines[block.keys[key]], value)
    gone = [key for key in removed if key not in changes]
    for key in gone:
        if key in block.keys:
            out[block.keys[key]] = ""
    added = [
        f"{block.key_indent}{key}: {scalar_text(value)}\n" for key, value in changes.items() if key not in block.keys
    ]
    if added:  # after the block's last key line (or in its place, when that key was removed)
        last = out[block.last]
        out[block.last] = (last + "\n" if last and not last.endswith("\n") else last) + "".join(added)
    result = "".join(out)
    _verify(text, result, changes, gone, where)
    return result


def _verify(before: str, after: str, changes: Mapping[str, Scalar], gone: list[str], where: str) -> None:
    """The edited file loads back to the old one with exactly these changes to train.model."""
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    model = {key: value for key, value in old["train"]["model"].items() if key not in gone}
    expected = {**old, "train": {**old["train"], "model": {**model, **changes}}}
    if new != expected:
        msg = f"{where}: the edited file does not load back to the proposed train.model (rule: edit it by hand)"
        raise ParamsEditError(msg)
