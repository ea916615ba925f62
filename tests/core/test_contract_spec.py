"""The declared contract (contract.yaml): the default reproduces the schema, mistakes are named."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template.core import contract_spec, text_rules
from mlops_template.core.contract_spec import ContractSpec, default_contract, load_contract, parse_contract
from mlops_template.core.errors import ConfigError
from mlops_template.data import schema

REPO = Path(__file__).resolve().parents[2]


def _default_raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(contract_spec.DEFAULT_PATH.read_text(encoding="utf-8"))
    return raw


def _with_column(column_name: str, /, **changes: Any) -> dict[str, Any]:
    raw = _default_raw()
    for column in raw["columns"]:
        if column["name"] == column_name:
            column.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del column[key]
    return raw


@pytest.fixture
def restore_contract() -> Iterator[None]:
    before = schema.active()
    yield
    schema.use(before)


def test_the_shipped_contract_is_the_packaged_default() -> None:
    # The template ships its default twice: at the root for the user to edit, and in the package
    # for an installed wheel (and as "the default" the simulated source is allowed with).
    assert (REPO / "contract.yaml").read_bytes() == contract_spec.DEFAULT_PATH.read_bytes()
    assert schema.active() == default_contract()


def test_the_schema_is_built_from_the_declared_contract() -> None:
    assert schema.ID == "transaction_id"
    assert schema.TIMESTAMP == "timestamp"
    assert schema.LABEL == "is_fraud"
    assert {"transaction_id", "customer_id", "is_fraud"} == schema.NON_FEATURES
    assert schema.CATEGORICAL_FEATURES == ("merchant_category", "channel", "device_type")
    assert schema.COLUMNS[:3] == ("transaction_id", "timestamp", "customer_id")
    assert (schema.ROW_NOUN, schema.POSITIVE_CLASS, schema.NEGATIVE_CLASS) == ("transaction", "fraud", "legit")
    assert len(schema.LIMITATIONS) == 5
    amount = schema.CONTRACT.columns["amount"]
    assert [(c.name, c.statistics) for c in amount.checks] == [
        ("in_range", {"min_value": 0.01, "max_value": 50000.0, "include_min": True, "include_max": True})
    ]
    assert schema.CONTRACT.columns["transaction_id"].unique  # the id is unique without saying so


def test_a_free_string_is_bounded_by_its_declared_max_length_or_the_default() -> None:
    raw = _with_column("transaction_id", min_length=3, max_length=3)  # the boundary: one length only
    spec = parse_contract(raw, "contract.yaml")
    assert (spec.column("transaction_id").longest, spec.column("transaction_id").free_text) == (3, True)
    shipped = default_contract()
    assert shipped.column("transaction_id").max_length is None
    assert shipped.column("transaction_id").longest == text_rules.DEFAULT_MAX_LENGTH == 128
    assert shipped.column("customer_id").longest == 64
    assert not shipped.column("channel").free_text  # its allowed values bound it


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_with_column("amount", dtype="decimal"), r"columns\[3\] \(amount\)\.dtype: Input should be 'string'"),
        (_with_column("amount", role="categorical"), r"columns\[3\] \(amount\): role 'categorical' needs dtype string"),
        (_with_column("amount", min=10.0, max=1.0), r"columns\[3\] \(amount\): min 10.0 is above max 1.0"),
        (_with_column("channel", min=0), r"columns\[5\] \(channel\): min/max apply to float and integer columns"),
        (_with_column("channel", allowed=[1, 2]), r"\(channel\): allowed values must all be of the column's dtype"),
        (_with_column("channel", allowed=["pos", "pos"]), r"\(channel\): allowed values \['pos'\] are listed twice"),
        (_with_column("amount", min_length=2), r"\(amount\): min_length applies to string columns"),
        (
            _with_column("amount", max_length=8),
            r"\(amount\): max_length applies to string columns \(dtype is 'float'\)",
        ),
        (_with_column("channel", max_length=8), r"\(channel\): max_length applies to string columns without allowed"),
        (_with_column("channel", min_length=1), r"\(channel\): min_length applies to string columns without allowed"),
        (
            _with_column("customer_id", max_length=0),
            r"\(customer_id\)\.max_length: Input should be greater than or equal",
        ),
        (_with_column("customer_id", max_length="64"), r"\(customer_id\)\.max_length: Input should be a valid integer"),
        (
            _with_column("customer_id", min_length=9, max_length=8),
            r"\(customer_id\): min_length 9 is above max_length 8",
        ),
        (
            _with_column("transaction_id", min_length=129),
            r"\(transaction_id\): min_length 129 is above the default max_length 128 \(declare one\)",
        ),
        (_with_column("amount", maximum=3), r"columns\[3\] \(amount\)\.maximum: Extra inputs are not permitted"),
        (_with_column("amount", min="0"), r"columns\[3\] \(amount\)\.min: Input should be a valid (integer|number)"),
        (_with_column("is_fraud", allowed=[0, 1, 2]), r"\(is_fraud\): the label must declare allowed: \[0, 1\]"),
        (_with_column("transaction_id", nullable=True), r"\(transaction_id\): the id column cannot be nullable"),
        (_with_column("customer_id", name="batch"), r"columns\[2\] \(batch\): name 'batch' is reserved"),
        (_with_column("customer_id", role="id"), r"exactly one column must have role 'id' \(found \['transaction_id'"),
        (_with_column("is_fraud", role="numeric", allowed=None), r"exactly one column must have role 'label'"),
        (_with_column("customer_id", name="amount"), r"column\(s\) \['amount'\] declared more than once"),
        ({**_default_raw(), "task": {**_default_raw()["task"], "negative_class": "fraud"}}, r"task: positive_class"),
        ({k: v for k, v in _default_raw().items() if k != "task"}, r"task: Field required"),
    ],
)
def test_a_bad_contract_names_the_column_and_the_rule(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_contract(copy.deepcopy(raw), "contract.yaml")
    assert str(caught.value).startswith("contract.yaml: invalid contract\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [", r"c.yaml: not valid YAML"),
        ("- a\n- b\n", r"c.yaml: expected a mapping with name, description, task and columns, got list"),
    ],
)
def test_an_unreadable_contract_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_contract(path)
    with pytest.raises(ConfigError, match=r"nowhere.yaml: contract file not found"):
        load_contract(tmp_path / "nowhere.yaml")


def test_the_contract_is_found_by_variable_then_working_directory_then_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert contract_spec.contract_path() == contract_spec.DEFAULT_PATH  # an installed wheel, anywhere
    (tmp_path / "contract.yaml").write_text("name: x", encoding="utf-8")
    assert contract_spec.contract_path() == Path("contract.yaml")
    monkeypatch.setenv(contract_spec.ENVIRONMENT_VARIABLE, str(tmp_path / "elsewhere.yaml"))
    assert contract_spec.contract_path() == tmp_path / "elsewhere.yaml"


def test_use_switches_every_constant_and_restores(tmp_path: Path, restore_contract: None) -> None:
    # Given a contract with other names
    raw = _default_raw()
    raw["name"] = "renamed"
    for column in raw["columns"]:
        column["name"] = f"x_{column['name']}"
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    # When it is used
    previous = schema.use(path)
    # Then the schema's constants follow, and the previous contract comes back on request
    assert previous == default_contract()
    assert schema.ID == "x_transaction_id"
    assert schema.LABEL == "x_is_fraud"
    assert schema.CONTRACT.name == "renamed"
    assert str(path) == schema.SOURCE
    assert isinstance(schema.active(), ContractSpec)
    schema.use(previous)
    assert schema.ID == "transaction_id"
