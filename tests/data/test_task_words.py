"""The task's words come from the data contract: with other words, no card-fraud word is left.

The words (what a row is, the class names, intended use, limitations) are module attributes of
`data/schema.py`; here they are replaced by a loan-default task's, and the model card, the CLI's
metrics line, the plot tables and labels, the PR report and the gate's messages are rendered again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_template import cli
from mlops_template.core import io
from mlops_template.core.config import parse_params
from mlops_template.data import schema
from mlops_template.model import model_card, statistics
from mlops_template.model.artifact import ServedModel
from mlops_template.release.pr_report import charts, render, sources
from mlops_template.stages import evaluate
from tests.support.params import small_params_dict
from tests.support.report_payloads import gate as gate_json
from tests.support.report_payloads import metrics, revision, slices

# The default task's words (and their plural or capitalised forms): none may survive other words.
DEFAULT_WORDS = re.compile(r"fraud|legit|transaction|chargeback", flags=re.IGNORECASE)
OTHER = {
    "ROW_NOUN": "loan application",
    "POSITIVE_CLASS": "default",
    "NEGATIVE_CLASS": "repaid",
    "INTENDED_USE": "Ranks loan applications by default risk for a credit officer's review.",
    "LIMITATIONS": ("Trained on three years of applications.", "Not for automated refusals."),
}


@pytest.fixture
def other_words(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in OTHER.items():
        monkeypatch.setattr(schema, name, value)
    return OTHER


def _leftovers(text: str) -> list[str]:
    return sorted({match.group(0).lower() for match in DEFAULT_WORDS.finditer(text)})


def _neutral_params() -> Any:
    """The small shipped params with neutral tracking names (params.yaml's are the default task's)."""
    raw = small_params_dict()
    raw["tracking"] = {"enabled": False}
    return parse_params(raw)


def test_the_model_card_speaks_the_contracts_words(other_words: dict[str, Any], served_dir: Path) -> None:
    # Given a trained and exported model and its evaluation reports
    reports = served_dir.parent.parent / "reports"
    served = ServedModel.load(served_dir)
    # When the card is built and rendered with another task's words
    card = model_card.build(
        _neutral_params(),
        served,
        metrics=io.read_json(reports / "metrics.json"),
        slices=io.read_json(reports / "slices.json"),
        weeks={"train": ["2026-W35"], "valid": ["2026-W38"], "test": ["2026-W39"]},
        quality={"rows_read": 10, "rows_rejected": 0, "duplicates_dropped": 0},
        data={"md5": "0" * 32},
    )
    markdown = model_card.render_markdown(card)
    # Then the card's words are the contract's
    assert card["task"] == {
        "row": "loan application",
        "label": schema.LABEL,
        "positive_class": "default",
        "negative_class": "repaid",
    }
    assert card["intended_use"] == other_words["INTENDED_USE"]
    assert card["limitations"] == list(other_words["LIMITATIONS"])
    assert card["model"]["output"] == "calibrated probability that the loan application is default"
    assert f"**Intended use.** {other_words['INTENDED_USE']}" in markdown
    assert "- Not for automated refusals." in markdown
    assert re.search(r"Test rows: \d+, of which default: \d+\.", markdown)
    assert "| slice | value | rows | default | average precision | recall |" in markdown
    # and no default word is left outside the schema table (column names are the data's, not words)
    words_part = markdown.split("## Schema")[0] + markdown.split("## Environment")[1]
    assert _leftovers(words_part) == []
    card_words = {k: card[k] for k in ("model", "intended_use", "limitations", "metrics", "slices")}
    assert _leftovers(repr(card_words)) == []


def test_the_metrics_line_names_the_positive_class(
    other_words: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = dict.fromkeys(cli.METRIC_ROWS, 0.5)
    path = tmp_path / "metrics.json"
    io.write_json(path, {"model": model, "baseline": model, "threshold": 0.25, "test": {"rows": 400, "positives": 12}})
    assert cli.main(["metrics", "--metrics", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Test split: 400 rows, 12 default; threshold 0.2500"
    assert _leftovers(out) == []


def test_the_confusion_matrix_and_charts_use_the_class_names(other_words: dict[str, Any], served_dir: Path) -> None:
    # Given the served model and its test rows
    root = served_dir.parent.parent
    test = pd.read_parquet(root / "artifacts/ingest/test.parquet")
    params = _neutral_params()
    # When evaluate computes its plot tables with another task's words
    _, _, plots = evaluate.evaluate(params, ServedModel.load(served_dir), test)
    confusion = plots["confusion"]
    # Then the confusion matrix is labelled with the contract's class names, row for row
    positives = test[schema.LABEL].to_numpy(dtype=int) == 1
    assert set(confusion["actual"]) == {"default", "repaid"}
    assert (confusion["actual"] == "default").to_numpy().tolist() == positives.tolist()
    assert set(confusion["predicted"]) <= {"default", "repaid"}
    # and the calibration chart's axis names the positive class
    chart = charts.calibration_chart(None, plots["calibration"].to_dict(orient="list"), 10, positive="default")
    assert 'y-axis "observed default rate"' in chart
    assert _leftovers(chart) == []


def test_the_pr_report_speaks_the_contracts_words(other_words: dict[str, Any]) -> None:
    # Given a PR whose slices got worse, and the report's words gathered from the contract
    report = revision(metrics(), metrics(ap=0.40), head_slices=slices(atm_recall=0.0), gate_json=gate_json())
    report["words"] = sources.task_words()
    report["gate"]["slices"] = [
        {"slice": "channel=atm", "metric": "recall", "rows": 409, "positives": 4, "champion": 0.25, "candidate": 0.0,
         "difference": {"value": -0.25, "low": -0.5, "high": 0.0}, "verdict": "within noise", "why": "too few"}
    ]  # fmt: skip
    head = report["data"]["head"]
    report["data"]["head"] = {**head, "quality": {**head["quality"], "test_positive_rate": 0.03}}
    # When it is rendered
    text = render.render(report)
    # Then the counts, the slice table, the data table and the calibration axis use them
    assert "| test default | 91 | 91 | | |" in text
    assert "| slice | metric | base | head | change (95% CI, paired) | rows (default) | |" in text
    assert "| test default rate | — | 0.0300 |" in text
    assert 'y-axis "observed default rate"' in text
    assert _leftovers(text) == []


def test_the_gates_messages_name_the_classes(other_words: dict[str, Any]) -> None:
    labels = np.array([1] + [0] * 99)
    recall = statistics.recall(labels, labels.astype(bool))
    with pytest.raises(statistics.BootstrapError, match="too few default cases") as few:
        statistics.paired_bootstrap(100, {"recall": recall}, None, resamples=200, confidence=0.9, seed=0)

    def undefined_on_the_rows(weights: np.ndarray) -> np.ndarray:
        """Defined on every resample but not on the rows themselves (as with one class only)."""
        return np.where((weights == 1).all(axis=1), np.nan, 0.5)

    with pytest.raises(statistics.BootstrapError, match=r"both classes \(default and repaid\)") as both:
        statistics.paired_bootstrap(100, {"recall": undefined_on_the_rows}, None, resamples=200, confidence=0.9, seed=0)
    assert _leftovers(str(few.value) + str(both.value)) == []
