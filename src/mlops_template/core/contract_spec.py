"""The declared data contract: `contract.yaml`, the file a user edits instead of Python.

It names every column of a row (dtype, nullability, checks), the role each plays (id, event time,
label, numeric or categorical input, ignored) and the task's words (what a row is, the two classes,
the model card's intended use and limitations). `data/schema.py` builds the pandera contract from it.

Where it is found, first match wins:
1. the file named by the `MLOPS_TEMPLATE_CONTRACT` environment variable;
2. `contract.yaml` in the working directory (the project root, where params.yaml is and where DVC
   runs every stage; dvc.yaml lists it as a dependency of the stages that read it);
3. the packaged default (`data/default_contract.yaml` in the package): the contract of the simulated
   card transactions, so an installed wheel works anywhere.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_template.core.errors import ConfigError
from mlops_template.core.text_rules import DEFAULT_MAX_LENGTH

ENVIRONMENT_VARIABLE = "MLOPS_TEMPLATE_CONTRACT"
FILE_NAME = "contract.yaml"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "default_contract.yaml"
# Columns the pipeline adds to a batch itself (ingest's batch name, quarantine's reasons).
RESERVED_NAMES = frozenset({"batch", "reasons"})

Dtype = Literal["string", "float", "integer", "datetime"]
Role = Literal["id", "event_time", "label", "numeric", "categorical", "ignored"]
Number = int | float
_ROLE_DTYPES: dict[str, tuple[str, ...]] = {
    "id": ("string", "integer"),
    "event_time": ("datetime",),
    "label": ("integer",),
    "numeric": ("float", "integer"),
    "categorical": ("string",),
    "ignored": ("string", "float", "integer", "datetime"),
}
SINGLE_ROLES = ("id", "event_time", "label")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class ColumnSpec(_Strict):
    """One column: its type, whether it may be empty, the role it plays and the values it may take."""

    name: str = Field(min_length=1)
    dtype: Dtype
    role: Role
    nullable: bool = False
    unique: bool = False
    description: str | None = None
    min: Number | None = None
    max: Number | None = None
    allowed: list[str] | list[int] | None = Field(None, min_length=1)
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _rules_fit_the_dtype(self) -> ColumnSpec:
        if self.name in RESERVED_NAMES:
            msg = f"name {self.name!r} is reserved (the pipeline adds {sorted(RESERVED_NAMES)} itself)"
            raise ValueError(msg)
        if self.dtype not in _ROLE_DTYPES[self.role]:
            msg = f"role {self.role!r} needs dtype {' or '.join(_ROLE_DTYPES[self.role])} (got {self.dtype!r})"
            raise ValueError(msg)
        numeric = self.dtype in {"float", "integer"}
        if (self.min is not None or self.max is not None) and not numeric:
            msg = f"min/max apply to float and integer columns (dtype is {self.dtype!r})"
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min {self.min} is above max {self.max}"
            raise ValueError(msg)
        self._length_range_holds()
        if self.allowed is not None:
            kind = {"string": str, "integer": int}.get(self.dtype)
            if kind is None or not all(type(value) is kind for value in self.allowed):
                msg = f"allowed values must all be of the column's dtype, string or integer (dtype is {self.dtype!r})"
                raise ValueError(msg)
            duplicated = sorted(str(v) for v, n in Counter(self.allowed).items() if n > 1)
            if duplicated:
                msg = f"allowed values {duplicated} are listed twice"
                raise ValueError(msg)
        if self.role in SINGLE_ROLES and self.nullable:
            msg = f"the {self.role} column cannot be nullable"
            raise ValueError(msg)
        if self.role == "label" and sorted(self.allowed or []) != [0, 1]:
            msg = "the label must declare allowed: [0, 1] (1 = the positive class)"
            raise ValueError(msg)
        return self

    def _length_range_holds(self) -> None:
        for key in ("min_length", "max_length"):
            if getattr(self, key) is None:
                continue
            if self.dtype != "string":
                msg = f"{key} applies to string columns (dtype is {self.dtype!r})"
                raise ValueError(msg)
            if self.allowed is not None:
                msg = f"{key} applies to string columns without allowed values (the allowed values bound this one)"
                raise ValueError(msg)
        if self.free_text and (self.min_length or 0) > self.longest:
            if self.max_length is None:
                msg = f"min_length {self.min_length} is above the default max_length {DEFAULT_MAX_LENGTH} (declare one)"
            else:
                msg = f"min_length {self.min_length} is above max_length {self.max_length}"
            raise ValueError(msg)

    @property
    def free_text(self) -> bool:
        """A string column without allowed values: the text rules (core/text_rules.py) bound it."""
        return self.dtype == "string" and self.allowed is None

    @property
    def longest(self) -> int:
        """The most characters a value of a free-text column may have: declared, or the default."""
        return DEFAULT_MAX_LENGTH if self.max_length is None else self.max_length


class TaskSpec(_Strict):
    """The task's words: the model card, the CLI, the plots and the reports use them."""

    row_noun: str = Field(min_length=1, description="What one row is, e.g. 'transaction'.")
    positive_class: str = Field(min_length=1, description="What label == 1 means, e.g. 'fraud'.")
    negative_class: str = Field(min_length=1, description="What label == 0 means, e.g. 'legit'.")
    intended_use: str = Field(min_length=1)
    limitations: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _classes_differ(self) -> TaskSpec:
        if self.positive_class == self.negative_class:
            msg = f"positive_class and negative_class are both {self.positive_class!r}"
            raise ValueError(msg)
        return self


class ContractSpec(_Strict):
    """The whole declared contract: a name, the task's words and the columns, in file order."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    task: TaskSpec
    columns: list[ColumnSpec] = Field(min_length=3)

    @model_validator(mode="after")
    def _roles_are_complete(self) -> ContractSpec:
        names = Counter(column.name for column in self.columns)
        twice = sorted(name for name, count in names.items() if count > 1)
        if twice:
            msg = f"column(s) {twice} declared more than once"
            raise ValueError(msg)
        for role in SINGLE_ROLES:
            found = [column.name for column in self.columns if column.role == role]
            if len(found) != 1:
                msg = f"exactly one column must have role {role!r} (found {found or 'none'})"
                raise ValueError(msg)
        return self

    def by_role(self, *roles: str) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.role in roles)

    def column(self, name: str) -> ColumnSpec:
        return next(column for column in self.columns if column.name == name)

    def one(self, role: str) -> str:
        return self.by_role(role)[0]


def _where(raw: Any, loc: tuple[str | int, ...]) -> str:
    """A pydantic error location as a user reads it: `columns[4] (amount).min`."""
    parts: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                parts[-1] += f" ({node['name']})"
            continue
        if part.startswith(("list[", "int", "float", "function-")):
            continue  # a union member's name, not a key of the file
        parts.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_contract(raw: Any, source: str) -> ContractSpec:
    """Validate a loaded mapping into a `ContractSpec`, or raise `ConfigError` naming key and rule."""
    if not isinstance(raw, dict):
        msg = f"{source}: expected a mapping with name, description, task and columns, got {type(raw).__name__}"
        raise ConfigError(msg)
    try:
        return ContractSpec.model_validate(raw)
    except ValidationError as exc:
        lines, seen = [f"{source}: invalid contract"], set()
        for item in exc.errors(include_url=False):
            where = _where(raw, tuple(item["loc"]))
            message = str(item["msg"]).removeprefix("Value error, ")
            value = "" if item["type"] in {"missing", "value_error"} else f" (got {item.get('input')!r})"
            line = f"  {where}: {message}{value}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
        raise ConfigError("\n".join(lines)) from None


def load_contract(path: Path) -> ContractSpec:
    """Read and validate a contract file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{path}: contract file not found"
        raise ConfigError(msg) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ConfigError(msg) from None
    return parse_contract(raw, str(path))


def contract_path() -> Path:
    """The contract file in use (see the module docstring for the order)."""
    named = os.environ.get(ENVIRONMENT_VARIABLE)
    if named:
        return Path(named)
    local = Path(FILE_NAME)
    return local if local.is_file() else DEFAULT_PATH


def default_contract() -> ContractSpec:
    """The contract of the simulated card transactions, shipped inside the package."""
    return load_contract(DEFAULT_PATH)
