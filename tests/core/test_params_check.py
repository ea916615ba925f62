"""`mlops-template params check`: params.yaml against the declared contract, one line per mistake."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template import cli
from mlops_template.core import contract_spec
from tests.support.params import shipped_params_dict, write_params

REPO = Path(__file__).resolve().parents[2]


def _check(tmp_path: Path, params: dict[str, Any], contract: dict[str, Any] | None = None) -> int:
    args = ["params", "check", "--params", str(write_params(tmp_path / "params.yaml", params))]
    if contract is not None:
        path = tmp_path / "contract.yaml"
        path.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
        args += ["--contract", str(path)]
    return cli.main(args)


def _default_contract() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(contract_spec.DEFAULT_PATH.read_text(encoding="utf-8"))
    return raw


def _files_source(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "source": {"kind": "files", "path": "landing/*.csv"}}


def _renamed_amount() -> dict[str, Any]:
    raw = _default_contract()
    raw["name"] = "loan_applications"
    raw["columns"][3]["name"] = "loan_amount"
    return raw


def _edit(**sections: dict[str, Any]) -> dict[str, Any]:
    raw = shipped_params_dict()
    for section, values in sections.items():
        raw[section] = {**raw[section], **values}
    return raw


def _numeric(**values: Any) -> dict[str, Any]:
    raw = shipped_params_dict()
    raw["featurize"]["numeric"].update(values)
    return raw


def _drift(**values: Any) -> dict[str, Any]:
    raw = shipped_params_dict()
    raw["monitor"]["drift"].update(values)
    return raw


def _tune(**values: Any) -> dict[str, Any]:
    raw = shipped_params_dict()
    raw["tune"].update(values)
    return raw


def _fairness(*groups: dict[str, Any]) -> dict[str, Any]:
    raw = shipped_params_dict()
    raw["evaluate"]["fairness"]["groups"] = list(groups)
    raw["gate"]["fairness"]["columns"] = None  # the gate judges whatever is declared
    return raw


CASES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any] | None], list[str]]] = {
    "a fairness group that is no column": (
        lambda: _fairness({"column": "channel"}, {"column": "age"}),
        lambda: None,
        ["evaluate.fairness.groups.1.column: 'age' is not a column of the contract (choose from ['customer_id',"],
    ),
    "a fairness group over the label": (
        lambda: _fairness({"column": "is_fraud"}),
        lambda: None,
        ["evaluate.fairness.groups.0.column: 'is_fraud' is the label column (rule: group by any other column"],
    ),
    "a continuous fairness group without bands": (
        lambda: _fairness({"column": "customer_age"}),
        lambda: None,
        ["evaluate.fairness.groups.0.column: 'customer_age' is a numeric integer column without allowed values (rule:"],
    ),
    "bands over a text column": (
        lambda: _fairness({"column": "channel", "bands": [1, 2]}),
        lambda: None,
        ["evaluate.fairness.groups.0.bands: 'channel' is a string column (rule: bands cut a numeric column"],
    ),
    "a gate fairness rule on an undeclared grouping": (
        lambda: _edit(gate={"fairness": {"columns": ["customer_age", "device_type"]}}),
        lambda: None,
        ["gate.fairness.columns: 'device_type' is not a grouping of evaluate.fairness.groups (rule: the gate judges"],
    ),
    "a fairness group listed twice": (
        lambda: _fairness({"column": "channel"}, {"column": "channel"}),
        lambda: None,
        ["evaluate.fairness.groups.1.column: 'channel' is listed twice (rule: one grouping per column)"],
    ),
    "a slice that is no column": (
        lambda: _edit(evaluate={"slices": ["channel", "chanel"]}),
        lambda: None,
        ["evaluate.slices: 'chanel' is not a column of the contract (choose from ['merchant_category', 'channel',"],
    ),
    "a slice over a continuous column": (
        lambda: _edit(evaluate={"slices": ["amount"]}),
        lambda: None,
        ["evaluate.slices: 'amount' is a numeric column without allowed values (rule: a slice groups rows"],
    ),
    "log of a categorical column": (
        lambda: _numeric(log=["channel"]),
        lambda: None,
        ["featurize.numeric.log: 'channel' is a categorical column (rule: log applies to numeric inputs"],
    ),
    "log of the label": (
        lambda: _numeric(log=["is_fraud"]),
        lambda: None,
        ["featurize.numeric.log: 'is_fraud' is a label column"],
    ),
    "log of a column the contract renamed": (
        lambda: _files_source(shipped_params_dict()),
        _renamed_amount,
        ["featurize.numeric.log: 'amount' is not a column of the contract (numeric inputs: ['loan_amount',"],
    ),
    "the simulated source with another contract": (
        lambda: _numeric(log=[]),
        _renamed_amount,
        [
            "source.kind: 'simulated' generates the template's 'card_transactions' rows, but ",
            "declares 'loan_applications' (rule: with your own contract, use source.kind: files)",
        ],
    ),
    "a trending input that is no column": (
        lambda: _drift(trending={"account_age": 1.0}),
        lambda: None,
        ["monitor.drift.trending: 'account_age' is not a column of the contract (numeric inputs: ['amount',"],
    ),
    "a trending input that is not numeric": (
        lambda: _drift(trending={"channel": 1.0}),
        lambda: None,
        ["monitor.drift.trending: 'channel' is a categorical column (rule: a trending input is a numeric input"],
    ),
    "an ignored drift input that is no model input": (
        lambda: _drift(ignored=["is_fraud"]),
        lambda: None,
        ["monitor.drift.ignored: 'is_fraud' is not a model input of the contract (inputs: ['amount',"],
    ),
    "no imputation for a linear model": (
        lambda: {**_numeric(impute="none"), "train": {"model": {"kind": "logistic_regression"}}},
        lambda: None,
        ["featurize.numeric.impute: 'none' leaves the gaps of nullable column(s) ['customer_age', 'distance_from"],
    ),
    "a search space without today's value": (
        lambda: _tune(hist_gradient_boosting={"learning_rate": {"low": 0.1, "high": 0.3, "log": True}}),
        lambda: None,
        ["tune.hist_gradient_boosting.learning_rate: [0.1, 0.3] leaves out today's train.model.learning_rate 0.05"],
    ),
    "a choice without today's value": (
        lambda: {
            **_tune(logistic_regression={"class_weight": {"choices": ["balanced"]}}),
            "train": {"model": {"kind": "logistic_regression"}},
        },
        lambda: None,
        ["tune.logistic_regression.class_weight: choices ['balanced'] leave out today's train.model.class_weight None"],
    ),
    "families without today's": (
        lambda: _tune(families=["logistic_regression"]),
        lambda: None,
        ["tune.families: ['logistic_regression'] leaves out train.model.kind 'hist_gradient_boosting' (rule: today"],
    ),
    "a linear family searched without imputation": (
        lambda: {**_numeric(impute="none"), "tune": {"families": ["hist_gradient_boosting", "logistic_regression"]}},
        lambda: None,
        ["tune.families: 'logistic_regression' with featurize.numeric.impute 'none' meets the gaps of nullable"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_one_line_naming_the_key_and_the_column(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params, contract, expected = CASES[case]
    assert _check(tmp_path, copy.deepcopy(params()), contract()) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0].startswith("error: params check: ")
    assert "mistake(s) against the contract" in lines[0]
    assert len(lines) == 2  # the headline and exactly one mistake
    assert all(part in lines[1] for part in expected), lines[1]
    assert "Traceback" not in err
    assert out == ""


def test_every_mistake_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = _numeric(log=["channel", "nope"])
    raw["evaluate"]["slices"] = ["amount"]
    assert _check(tmp_path, raw) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("3 mistake(s) against the contract contract.yaml")
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "featurize.numeric.log",
        "featurize.numeric.log",
        "evaluate.slices",
    ]


def test_the_shipped_params_fit_the_shipped_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["params", "check", "--params", str(REPO / "params.yaml")]) == 0
    assert "against the contract contract.yaml (card_transactions)" in capsys.readouterr().out


def test_files_source_with_its_own_contract_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = _files_source(shipped_params_dict())
    raw["featurize"]["numeric"]["log"] = ["loan_amount"]
    assert _check(tmp_path, raw, _renamed_amount()) == 0
    assert "(loan_applications)" in capsys.readouterr().out


def test_a_broken_contract_file_is_one_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = _default_contract()
    contract["columns"][3]["dtype"] = "money"
    assert _check(tmp_path, shipped_params_dict(), contract) == 2
    err = capsys.readouterr().err
    assert "contract.yaml: invalid contract" in err
    assert "columns[3] (amount).dtype: Input should be 'string', 'float', 'integer' or 'datetime'" in err
    assert "Traceback" not in err
