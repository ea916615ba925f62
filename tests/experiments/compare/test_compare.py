"""`mlops-template compare` on directories and the baseline: the scoreboard, its three formats, its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops_template.core.config import parse_params
from mlops_template.experiments.compare import command
from tests.support.params import small_params_dict, write_params

REFS = ["models/served", "models/stricter", "baseline"]


@pytest.fixture
def params_file(compare_project: Path) -> Path:
    raw = small_params_dict()
    raw["gate"]["resamples"] = 200  # fewer resamples: the same code, faster
    return write_params(compare_project / "params.yaml", raw)


def _compare(out: str, *refs: str) -> int:
    return command.main([*refs, "--params", "params.yaml", "--out", out, "--disagreements", "5"])


def test_three_models_on_the_same_rows_in_three_formats(
    params_file: Path, compare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _compare("out", *REFS) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("compare: ")
    assert "differences against 'models/served'" in printed
    out = compare_project / "out"
    board = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [m["ref"] for m in board["models"]] == REFS
    assert [m["kind"] for m in board["models"]] == ["directory", "directory", "baseline"]
    served, stricter, baseline = board["models"]
    assert served["difference"] is None  # the reference
    assert stricter["threshold"] > served["threshold"]
    assert baseline["threshold"] is None
    # The same graph: ranking metrics are identical, threshold metrics move with the threshold.
    assert stricter["difference"]["roc_auc"]["verdict"] == "identical"
    assert stricter["metrics"]["average_precision"] == served["metrics"]["average_precision"]
    assert stricter["metrics"]["flagged_share"]["value"] < served["metrics"]["flagged_share"]["value"]
    assert baseline["metrics"]["roc_auc"]["value"] == 0.5
    assert baseline["metrics"]["recall"]["value"] == 0.0  # the prior flags nobody
    assert baseline["difference"]["average_precision"]["verdict"] == "worse"
    for model in board["models"]:
        for found in model["metrics"].values():
            assert found["low"] <= found["value"] <= found["high"]
    rows = board["rows"]
    assert rows["rows"] > 0
    assert 0 < rows["positives"] < rows["rows"]
    assert set(board["slices"]) == {"channel", "merchant_category"}
    channel = next(iter(board["slices"]["channel"].values()))
    assert set(channel["models"]) == set(REFS)
    assert set(channel["difference"]) == set(REFS[1:])
    # Disagreements: the two served models differ only in their labels; the spread is over both graphs
    # and the baseline is left out, so no row differs in probability between the first two.
    assert board["disagreements"] == []
    # The fairness audit's groups (evaluate.fairness), for the models that flag rows (not the baseline).
    assert set(board["groups"]) == {"customer_age", "channel"}
    channel_groups = board["groups"]["channel"]
    assert set(channel_groups["models"]) == set(REFS[:2])
    assert set(channel_groups["difference"]) == {"models/stricter"}
    assert "equalized_odds" in channel_groups["models"]["models/served"]["gaps"]
    assert set(board["curves"]) == {"roc", "precision_recall", "calibration"}
    assert set(board["curves"]["roc"]) == set(REFS)

    markdown = (out / "compare.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Model comparison\n")
    assert "| average_precision |" in markdown
    assert "![ROC curve](roc.svg)" in markdown
    for chart in ("roc", "precision_recall", "calibration"):
        assert (out / f"{chart}.svg").read_text(encoding="utf-8").startswith('<svg xmlns="http://www.w3.org/2000/svg"')


def test_the_html_page_opens_with_no_network(params_file: Path, compare_project: Path) -> None:
    assert _compare("out", *REFS) == 0
    page = (compare_project / "out/compare.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:", page, re.IGNORECASE), "a URL in the page"
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|\ssrc=|\shref=", page, re.IGNORECASE)
    assert page.count("<svg ") == 3  # ROC, precision-recall, calibration, inline
    assert "Where the models disagree most" not in page  # none differ in probability here


def test_the_same_inputs_give_the_same_bytes(params_file: Path, compare_project: Path) -> None:
    assert _compare("first", *REFS) == 0
    assert _compare("second", *REFS) == 0
    first, second = compare_project / "first", compare_project / "second"
    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in second.iterdir())
    assert len(names) == 6
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_disagreements_name_inputs_probabilities_and_the_true_label(params_file: Path, compare_project: Path) -> None:
    from mlops_template.data.splits import read_split  # noqa: PLC0415
    from mlops_template.experiments.compare.scoreboard import BoardSettings, build  # noqa: PLC0415
    from mlops_template.experiments.compare.scoring import Scored  # noqa: PLC0415

    rows = read_split(compare_project / "artifacts/ingest/test.parquet")
    labels = rows["is_fraud"].to_numpy(dtype=int)
    flat = Scored("flat", "directory", "test", "a", 0.5, labels * 0.0 + 0.4)
    steep = Scored("steep", "directory", "test", "b", 0.5, labels * 0.5 + 0.25)  # 0.75 for fraud, 0.25 else
    settings = BoardSettings.from_params(parse_params(small_params_dict()), disagreements=3)
    board = build([flat, steep], rows, ["2026-W39"], settings)
    found = board["disagreements"]
    assert len(found) == 3
    for row in found:
        assert row["true"] == "fraud"
        assert row["spread"] == 0.35
        assert row["models"] == {
            "flat": {"probability": 0.4, "label": "legit"},
            "steep": {"probability": 0.75, "label": "fraud"},
        }
        assert {"amount", "channel", "timestamp"} <= set(row["inputs"])
    assert [row["id"] for row in found] == sorted(row["id"] for row in found)  # ties by row id


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        (["no-such-thing"], "REF 'no-such-thing': not `baseline`, a models:/ URI, a directory, a git revision"),
        (["models/served", "models/served"], "REF 'models/served': given twice"),
        (["artifacts"], "REF 'artifacts': the directory holds no served.json"),
        (["models:/fraud-detector"], "REF 'models:/fraud-detector': model uri 'models:/fraud-detector': expected"),
        ([], "give at least one REF"),
    ],
)
def test_a_ref_that_cannot_be_scored_is_one_line(
    params_file: Path, refs: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _compare("out", *refs) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: compare: {message}"), error
    assert error.count("\n") == 1
    assert not Path("out").exists()  # nothing written


def test_an_altered_artifact_is_refused(
    params_file: Path, compare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (compare_project / "models/stricter/model.onnx").write_bytes(b"not a model")
    assert _compare("out", "models/served", "models/stricter") == 2
    assert "does not match" in capsys.readouterr().err


def test_a_model_of_another_contract_is_refused(
    params_file: Path, compare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = compare_project / "models/stricter/served.json"
    metadata = json.loads(other.read_text(encoding="utf-8"))
    metadata["inputs"].append({"name": "loan_amount", "kind": "numeric"})
    other.write_text(json.dumps(metadata), encoding="utf-8")
    assert _compare("out", "models/served", "models/stricter") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO ")]
    assert len(errors) == 1
    assert errors[0].startswith("error: compare: REF 'models/stricter': the model takes the input 'loan_amount'")
