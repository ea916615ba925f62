"""--apply's editor: exactly the changed train.model lines change, comments stay, anything else is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.core.config import parse_params
from mlops_template.experiments.params_edit import ParamsEditError, scalar_text, set_model
from tests.support.workspace import REPO

SHIPPED = (REPO / "params.yaml").read_text(encoding="utf-8")
TODAY = yaml.safe_load(SHIPPED)["train"]["model"]


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


hgb_values = st.fixed_dictionaries(
    {},
    optional={
        "learning_rate": st.floats(min_value=1e-6, max_value=1.0, allow_subnormal=False),
        "max_iter": st.integers(min_value=1, max_value=10_000),
        "max_leaf_nodes": st.integers(min_value=2, max_value=4096),
        "min_samples_leaf": st.integers(min_value=1, max_value=10_000),
        "l2_regularization": st.floats(min_value=0.0, max_value=1e6, allow_subnormal=False),
    },
)


@settings(max_examples=100, deadline=None)
@given(changes=hgb_values)
def test_exactly_the_changed_keys_change_and_every_comment_stays(changes: dict[str, Any]) -> None:
    changes = {key: value for key, value in changes.items() if TODAY[key] != value}
    edited = set_model(SHIPPED, changes)
    raw = yaml.safe_load(edited)
    assert raw["train"]["model"] == {**TODAY, **changes}
    assert {k: v for k, v in raw.items() if k != "train"} == {
        k: v for k, v in yaml.safe_load(SHIPPED).items() if k != "train"
    }
    changed = _changed_lines(SHIPPED, edited)
    assert sorted(old.split(":")[0].strip() for old, _ in changed) == sorted(changes)
    for old, new in changed:
        assert ("#" in old) == ("#" in new)
        if "#" in old:
            assert old[old.index("#") :] == new[new.index("#") :]
    assert parse_params(raw).train.model.model_dump() == {**TODAY, **changes}  # still valid params


@given(value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_scalar_is_written_as_yaml_reads_it(value: Any) -> None:
    assert yaml.safe_load(f"key: {scalar_text(value)}")["key"] == value


def test_a_change_of_family_replaces_the_other_familys_keys() -> None:
    changes = {"kind": "logistic_regression", "max_iter": 1000, "C": 0.5, "class_weight": "balanced"}
    removed = ["learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization"]
    edited = set_model(SHIPPED, changes, removed)
    model = parse_params(yaml.safe_load(edited)).train.model
    assert model.model_dump() == {"kind": "logistic_regression", "C": 0.5, "max_iter": 1000, "class_weight": "balanced"}
    assert "# or logistic_regression" in edited  # the kind line keeps its comment


def test_a_key_left_to_its_default_is_added_to_the_block() -> None:
    text = SHIPPED.replace("    min_samples_leaf: 40\n", "")
    edited = set_model(text, {"min_samples_leaf": 12})
    assert "    l2_regularization: 1.0\n    min_samples_leaf: 12\n  calibration:" in edited


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (SHIPPED.replace("train:\n", "train:\n  model: {kind: hist_gradient_boosting}\n  old:\n", 1), "block style"),
        (SHIPPED + "\ntrain:\n  model:\n    kind: logistic_regression\n", "found 2 `train:` lines"),
        (SHIPPED.replace("    learning_rate: 0.05\n", '    learning_rate: "0.05"\n'), "not `key: plain value`"),
        (SHIPPED.replace("    max_iter: 200\n", "    max_iter:\n      200\n"), "not `key: plain value`"),
    ],
)
def test_what_it_cannot_place_is_refused_naming_the_rule(text: str, rule: str) -> None:
    with pytest.raises(ParamsEditError, match=rule):
        set_model(text, {"learning_rate": 0.1})
