"""`compare --ablate`: one retrain per input (or group) left out, on a small ingested project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_template.core.config import parse_params
from mlops_template.core.errors import ConfigError
from mlops_template.data import schema
from mlops_template.experiments.compare import ablation, command
from mlops_template.model.features import build_transformer, input_columns
from tests.support.params import small_params_dict, write_params


@pytest.fixture
def ablation_project(tuning_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = small_params_dict()
    raw["gate"]["resamples"] = 200
    write_params(tuning_project / "params.yaml", raw)
    monkeypatch.chdir(tuning_project)
    return tuning_project


def test_leaving_an_input_out_hides_it_from_the_features() -> None:
    params, contract = parse_params(small_params_dict()), schema.active()
    inputs = input_columns(contract)
    for column in ("amount", "channel", "timestamp"):
        changed_params, changed = ablation.without(params, contract, [column])
        assert column not in input_columns(changed) or column == contract.one("event_time")
        transformer = build_transformer(changed_params.featurize, changed)
        blocks = {name: columns for name, _, columns in transformer.named_steps["columns"].transformers}
        seen = {c for columns in blocks.values() for c in columns}
        assert column not in seen
        assert seen | {column} >= set(inputs) - {column}
    assert "amount" not in ablation.without(params, contract, ["amount"])[0].featurize.numeric.log
    untouched, _ = ablation.without(params, contract, [])
    assert untouched == params


def test_groups_are_declared_inputs_each_in_one_group() -> None:
    contract = schema.active()
    groups = ablation.input_groups(contract, {"time": ("timestamp", "account_age_days")})
    assert groups["time"] == ("timestamp", "account_age_days")
    assert "timestamp" not in groups
    assert "amount" in groups
    assert len(groups) == len(input_columns(contract)) - 1
    with pytest.raises(ConfigError, match=r"--group x: 'nope' is not a model input"):
        ablation.input_groups(contract, {"x": ("nope",)})
    with pytest.raises(ConfigError, match=r"--group b: 'amount' is in another group already"):
        ablation.input_groups(contract, {"a": ("amount",), "b": ("amount",)})
    with pytest.raises(ConfigError, match=r"--group amount: the name is taken"):
        ablation.input_groups(contract, {"amount": ("channel",)})
    with pytest.raises(ConfigError, match=r"expected NAME=column,column"):
        ablation.parse_group("time")


def test_ablation_scoreboard_on_a_small_dataset(ablation_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--ablate", "--group", "time=timestamp,account_age_days", "--params", "params.yaml", "--out", "one"]
    assert command.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("ablation: change in average precision")
    board = json.loads((ablation_project / "one/ablation.json").read_text(encoding="utf-8"))
    names = [row["left_out"] for row in board["left_out"]]
    inputs = input_columns(schema.active())
    assert sorted(names) == sorted(["time", *(c for c in inputs if c not in {"timestamp", "account_age_days"})])
    changes = [row["difference"]["average_precision"]["value"] for row in board["left_out"]]
    assert changes == sorted(changes)  # most valuable first
    for row in board["left_out"]:
        assert set(row["difference"]) == {"average_precision", "recall"}
        for found in row["difference"].values():
            assert found["low"] <= found["value"] <= found["high"]
            assert found["verdict"] in {"better", "worse", "within noise", "identical"}
        assert set(row["permutation_importance"]) == set(row["columns"])
    time_row = next(row for row in board["left_out"] if row["left_out"] == "time")
    assert time_row["columns"] == ["timestamp", "account_age_days"]
    assert set(board["all_inputs"]["metrics"]) == {"average_precision", "recall"}
    page = (ablation_project / "one/ablation.html").read_text(encoding="utf-8")
    assert "http" not in page
    assert "<script" not in page
    assert page.count("<svg ") == 2
    assert "| time (timestamp, account_age_days) |" in (ablation_project / "one/ablation.md").read_text()

    # Two processes give the very same scoreboard, byte for byte.
    assert command.main([*argv[:-1], "two", "--jobs", "2"]) == 0
    for name in ("ablation.json", "ablation.md", "ablation.html"):
        assert (ablation_project / "one" / name).read_bytes() == (ablation_project / "two" / name).read_bytes()


def test_a_bad_group_is_one_line(ablation_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(["--ablate", "--group", "x=nope", "--params", "params.yaml"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: compare: --group x: 'nope' is not a model input")
    assert command.main(["models/served", "--group", "x=amount", "--params", "params.yaml"]) == 2
    assert capsys.readouterr().err == "error: compare: --group: only with --ablate\n"
