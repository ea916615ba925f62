"""The PR report: rendered from fixture revisions (dicts), and once from a real git + DVC repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlops_template.data import schema
from mlops_template.release.pr_report import charts, render, sources
from mlops_template.release.pr_report.cli import main as report_main
from tests.support.report_payloads import gate, metrics, revision, slices
from tests.support.workspace import GIT_IDENTITY, VENV_BIN

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_INPUT = REPO / "tests/fixtures/report_example.json"
EXAMPLE = REPO / "docs/pr-comment-example.md"


def row(markdown: str, name: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {name} ("))


def test_a_better_model_reads_better_in_each_metrics_direction() -> None:
    text = render.render(revision(metrics(), metrics(ap=0.47, brier=0.0120), gate_json=gate()))
    assert text.splitlines()[0] == render.MARKER
    assert row(text, "average_precision").endswith("| ▲ +0.0200 | ✅ better |")
    assert row(text, "brier").endswith("| ▼ -0.0009 | ✅ better |")  # lower is better
    assert row(text, "roc_auc").endswith("| → 0 | same |")
    assert "✅ **pass**: the reason" in text
    assert row(text, "average_precision").startswith("| average_precision (higher is better) | 0.4500 | 0.4700 ")


def test_a_worse_model_reads_worse_and_shows_the_failed_gate() -> None:
    text = render.render(revision(metrics(), metrics(recall=0.40, brier=0.0135), gate_json=gate("fail", -0.02)))
    assert row(text, "recall").endswith("| ▼ -0.0400 | 🔻 worse |")
    assert row(text, "brier").endswith("| ▲ +0.0006 | 🔻 worse |")
    assert "❌ **fail**: average_precision may have regressed by more than 0.0300" in text
    assert (
        "| average_precision | 0.4500 [0.3400, 0.5400] | 0.4500 [0.3400, 0.5400] | -0.0200 [-0.0350, -0.0050] |" in text
    )


def test_a_params_only_change_lists_the_params_and_unchanged_metrics() -> None:
    params_diff = {"params.yaml": {"train.model.learning_rate": {"old": 0.05, "new": 0.1, "diff": 0.05}}}
    params_diff["params.yaml"]["train.calibration.method"] = {"old": "isotonic", "new": "isotonic"}
    text = render.render(revision(metrics(), metrics(), params_diff=params_diff))
    assert "| `train.model.learning_rate` | `0.05` | `0.1` |" in text
    assert "calibration.method" not in text  # unchanged params are not listed
    assert all(row(text, name).endswith("| → 0 | same |") for name in render.HIGHER_IS_BETTER)
    assert "Not run (no reports/gate.json" in text
    assert "No params changed." not in text


def test_a_first_run_has_no_base_to_compare() -> None:
    text = render.render(revision(None, metrics(), gate_json=gate(champion=False), first=True))
    assert "No metrics at the base revision: this is the first model." in text
    assert row(text, "average_precision") == "| average_precision (higher is better) | — | 0.4500 |  | new |"
    assert "No paired slice comparison (the gate ran without a champion, or not at all)." in text
    assert "no champion (first model)" in text
    assert "| data version (data.dvc md5) | — | `466db64d.dir` |" in text
    roc = text.split("```mermaid")[1]
    assert roc.count("    line [") == 1  # only the head's curve


def _change(name: str, metric: str, interval: tuple[float, float, float], positives: int) -> dict[str, Any]:
    """One entry of the gate's paired slice comparison, judged as slice_changes judges it (min 20)."""
    from mlops_template.model.slice_changes import _verdict  # noqa: PLC0415

    value, low, high = interval
    difference = {"value": value, "low": low, "high": high}
    verdict, why = _verdict(difference, positives, 20)
    return {"slice": name, "metric": metric, "rows": 1000, "positives": positives, "champion": 0.5,
            "candidate": 0.5 + value, "difference": difference, "verdict": verdict, "why": why}  # fmt: skip


def test_a_slice_change_is_called_only_beyond_noise() -> None:
    # Given the gate's paired slice changes: one worse and one better beyond noise, one whose interval
    # includes zero, and a big fall on 4 positives (the old report called it "worse")
    evidence = gate()
    evidence["rules"]["slices"] = {"min_positives": 20}
    evidence["slices"] = [
        _change("channel=atm", "average_precision", (-0.20, -0.45, 0.001), 4),
        _change("channel=online", "recall", (-0.08, -0.17, -0.02), 51),
        _change("channel=pos", "recall", (0.05, 0.01, 0.09), 36),
        _change("channel=pos", "average_precision", (-0.02, -0.05, 0.02), 36),
    ]
    text = render.render(revision(metrics(), metrics(), gate_json=evidence))
    section = text.split("### Slices")[1].split("### ")[0]
    judged, noise = section.split("<details>")
    # Then only the changes whose interval excludes zero, on enough positives, are called, worst first
    listed = [line for line in judged.splitlines() if line.startswith("| `")]
    assert listed == [
        "| `channel=online` | recall | 0.5000 | 0.4200 | -0.0800 [-0.1700, -0.0200] | 1,000 (51) | 🔻 worse |",
        "| `channel=pos` | recall | 0.5000 | 0.5500 | +0.0500 [+0.0100, +0.0900] | 1,000 (36) | ✅ better |",
    ]
    # and the rest are folded, each with why it is noise
    assert noise.startswith("<summary>Within noise (2)</summary>")
    atm = "| `channel=atm` | average_precision | 0.5000 | 0.3000 | -0.2000 [-0.4500, +0.0010] | 1,000 (4) |"
    assert f"{atm} 4 fraud rows, fewer than 20 |" in noise
    assert "| 1,000 (36) | interval includes zero |" in noise
    assert "</details>" in noise


def test_the_fairness_section_shows_how_each_gap_moved() -> None:
    # Given the gate's fairness evidence: a recall gap that grew beyond its rule, and a too-small grouping
    evidence = gate()
    gap = {"value": 0.45, "low": 0.31, "high": 0.58, "highest": "online", "lowest": "pos"}
    evidence["fairness"] = {
        "channel": {
            "recall": {
                "candidate": gap,
                "champion": {**gap, "value": 0.25, "low": 0.10, "high": 0.40},
                "difference": {"value": 0.20, "low": 0.16, "high": 0.24},
                "rule": {"max_gap": 0.3, "max_increase": 0.15},
                "failed": ["max_gap", "max_increase"],
            }
        },
        "customer_age": {
            "recall": {
                "candidate": {"value": None, "reason": "1 group(s) large enough to judge: a gap needs two"},
                "champion": None,
                "difference": None,
                "rule": {"max_gap": 0.3, "max_increase": None},
                "failed": [],
            }
        },
    }
    text = render.render(revision(metrics(), metrics(), gate_json=evidence))
    section = text.split("### Fairness")[1].split("### ")[0]
    # Then each gap reads base, head and the paired change, with the rule and what failed
    assert (
        "| channel | recall gap | 0.2500 [0.1000, 0.4000] | 0.4500 [0.3100, 0.5800] | +0.2000 [+0.1600, +0.2400] "
        "| online minus pos | max_gap 0.3, max_increase 0.15 | ❌ max_gap, max_increase |"
    ) in section
    assert "| customer_age | recall gap | | | | 1 group(s) large enough to judge: a gap needs two | | |" in section


def test_the_importance_chart_is_horizontal_so_every_name_reads() -> None:
    names = {f"feature_{i}_with_a_long_name": float(i) for i in range(10)}
    chart = charts.importance_chart(None, names)
    assert "xychart-beta horizontal" in chart
    assert all(f'"{name}"' in chart for name in names)


def test_no_images_and_no_links_unless_a_tracking_server_is_set() -> None:
    report = revision(metrics(), metrics(ap=0.5), gate_json=gate())
    text = render.render(report)
    assert not re.search(r"!\[|<img|https?://", text)
    linked = render.render({**report, "mlflow_run_url": "https://mlflow.example.invalid/#/experiments/1/runs/abc"})
    assert "MLflow run: [https://mlflow.example.invalid/#/experiments/1/runs/abc]" in linked


def test_charts_are_mermaid_with_few_points() -> None:
    text = render.render(revision(metrics(), metrics(), gate_json=gate()))
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 4
    for block in blocks:
        assert "xychart-beta" in block
        for series in re.findall(r"(?:line|bar) \[(.*?)\]", block):
            assert 1 <= len(series.split(",")) <= 25


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("recall", 0.4, 0.5, "✅ better"),
        ("recall", 0.5, 0.4, "🔻 worse"),
        ("calibration_error", 0.01, 0.02, "🔻 worse"),
        ("brier", 0.02, 0.01, "✅ better"),
        ("f1", 0.4, 0.4, "same"),
    ],
)
def test_verdict_follows_each_metrics_direction(name: str, old: float, new: float, expected: str) -> None:
    assert render.verdict(name, old, new)[1] == expected


def test_curves_are_resampled_on_an_even_grid() -> None:
    grid = [0.0, 0.5, 1.0]
    assert charts.step_curve([0.0, 0.2, 0.6, 1.0], [0.0, 0.7, 0.8, 1.0], grid, envelope="max_before") == [0.0, 0.7, 1.0]
    assert charts.step_curve([1.0, 0.6, 0.2], [0.1, 0.4, 0.9], grid, envelope="max_after") == [0.9, 0.4, 0.1]


def test_the_readme_example_is_what_the_renderer_writes() -> None:
    """docs/pr-comment-example.md: regenerate with `python -m tests.release.test_pr_report`."""
    assert EXAMPLE.read_text(encoding="utf-8") == render.render(json.loads(EXAMPLE_INPUT.read_text(encoding="utf-8")))


def test_legacy_quality_keys_are_read_under_their_new_names() -> None:
    # Given a base written before the rename and a head written after it
    old = {"test_rows": 10, "test_fraud_rate": 0.1, "train_fraud_rate": 0.2}
    assert sources.upgrade_quality(old) == {"test_rows": 10, "test_positive_rate": 0.1, "train_positive_rate": 0.2}
    both = {"test_fraud_rate": 0.1, "test_positive_rate": 0.3}  # the new key wins over a stale legacy one
    assert sources.upgrade_quality(both) == {"test_positive_rate": 0.3}
    diff = {
        "reports/data_quality.json": {
            "test_rows": {"old": 10, "new": 12, "diff": 2},
            "test_fraud_rate": {"old": 0.1, "new": None},
            "test_positive_rate": {"old": None, "new": 0.25},
            "valid_fraud_rate": {"old": 0.3, "new": None},  # a head that lacks the metric stays missing
        },
        "reports/metrics.json": {"threshold": {"old": 0.2, "new": 0.3}},
    }
    # When DVC's diff is upgraded
    upgraded = sources.upgrade_metrics_diff(diff)
    # Then each renamed pair is one entry with both sides, and other files are untouched
    quality = upgraded["reports/data_quality.json"]
    assert set(quality) == {"test_rows", "test_positive_rate", "valid_positive_rate"}
    assert quality["test_positive_rate"] == {"old": 0.1, "new": 0.25, "diff": pytest.approx(0.15)}
    assert quality["valid_positive_rate"] == {"old": 0.3, "new": None}
    assert upgraded["reports/metrics.json"] == diff["reports/metrics.json"]
    assert "test_fraud_rate" in diff["reports/data_quality.json"]  # the input is not changed


# --- from a real git + DVC repository ------------------------------------------------------------------------


def _sh(cwd: Path, *args: str) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def _write(root: Path, name: str, payload: Any) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload) if name.endswith(".json") else str(payload)
    (root / name).write_text(text, encoding="utf-8")


def test_the_command_reads_git_and_dvc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sh(tmp_path, "git", "init", "-q")
    _sh(tmp_path, str(VENV_BIN / "dvc"), "init", "-q")
    metric_files = ("metrics.json", "slices.json", "data_quality.json")
    _write(
        tmp_path,
        "dvc.yaml",
        "params:\n  - params.yaml\nmetrics:\n" + "".join(f"  - reports/{f}\n" for f in metric_files),
    )
    _write(tmp_path, "params.yaml", "train:\n  model:\n    learning_rate: 0.05\n")
    _write(tmp_path, "reports/metrics.json", metrics())
    _write(tmp_path, "reports/slices.json", slices())
    _write(tmp_path, "reports/data_quality.json", {"test_rows": 4996, "test_fraud_rate": 0.0182})  # a legacy key
    _write(tmp_path, "reports/plots/roc.csv", "fpr,tpr,threshold\n0.0,0.0,1.0\n0.1,0.6,0.5\n1.0,1.0,0.0\n")
    _sh(tmp_path, "git", "add", "-A")
    _sh(tmp_path, "git", *GIT_IDENTITY, "commit", "-qm", "base")
    _write(tmp_path, "params.yaml", "train:\n  model:\n    learning_rate: 0.1\n")
    _write(tmp_path, "reports/metrics.json", metrics(ap=0.40))
    _write(tmp_path, "reports/slices.json", slices(atm_recall=0.0))
    _write(tmp_path, "reports/data_quality.json", {"test_rows": 4996, "test_positive_rate": 0.02})
    _write(tmp_path, "reports/gate.json", gate("fail", -0.05))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    assert report_main(["--base-rev", "HEAD", "--out", "report.md"]) == 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| `train.model.learning_rate` | `0.05` | `0.1` |" in text
    assert row(text, "average_precision").endswith("| ▼ -0.0500 | 🔻 worse |")
    assert "❌ **fail**" in text
    assert text.count("```mermaid") == 1  # only the ROC file exists
    # The base's legacy key is read under its new name: one row, not a vanished and a new metric
    assert f"| test {schema.POSITIVE_CLASS} rate | 0.0182 | 0.0200 |" in text
    assert "| `reports/data_quality.json` | test_positive_rate | 0.0182 | 0.0200 |" in text
    assert "_fraud_rate" not in text

    _sh(tmp_path, "git", "add", "-A")
    _sh(tmp_path, "git", *GIT_IDENTITY, "commit", "-qm", "head")
    assert report_main(["--base-rev", "HEAD~1", "--head-rev", "HEAD", "--out", "committed.md"]) == 0
    committed = (tmp_path / "committed.md").read_text(encoding="utf-8")
    assert committed.split("### Promotion gate")[1] == text.split("### Promotion gate")[1]  # same content

    assert report_main(["--base-rev", "no-such-rev"]) == 2


if __name__ == "__main__":
    EXAMPLE.write_text(render.render(json.loads(EXAMPLE_INPUT.read_text(encoding="utf-8"))), encoding="utf-8")
