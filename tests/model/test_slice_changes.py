"""Each slice's paired change: called better or worse only beyond noise, on enough positives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.model.slice_changes import BETTER, NOISE, WORSE, Scored, slice_changes


def _rows(n: int = 3000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"channel": rng.choice(["atm", "online", "pos"], size=n, p=[0.03, 0.47, 0.5])})
    labels = (rng.random(n) < 0.1).astype(int)
    scores = np.clip(labels * 0.4 + rng.random(n) * 0.6, 0, 1)
    return frame, labels, scores


def _changes(frame: pd.DataFrame, labels: np.ndarray, champion: Scored, candidate: Scored) -> list[dict[str, object]]:
    return slice_changes(
        frame,
        labels,
        {"champion": champion, "candidate": candidate},
        ["channel"],
        min_rows=50,
        min_positives=20,
        resamples=300,
        confidence=0.95,
        seed=1,
    )


def test_a_model_against_itself_is_within_noise_everywhere() -> None:
    frame, labels, scores = _rows()
    same = Scored(scores, 0.5)
    for entry in _changes(frame, labels, same, Scored(scores.copy(), 0.5)):
        assert entry["verdict"] == NOISE
        assert entry["difference"] == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_a_clear_change_is_called_and_a_small_slice_never_is() -> None:
    frame, labels, scores = _rows()
    # The candidate flags far more of the positives (a lower threshold): recall rises everywhere
    found = {(e["slice"], e["metric"]): e for e in _changes(frame, labels, Scored(scores, 0.7), Scored(scores, 0.45))}
    online = found["channel=online", "recall"]
    assert online["verdict"] == BETTER
    assert online["difference"]["low"] > 0  # type: ignore[index]
    atm = found["channel=atm", "recall"]
    assert int(atm["positives"]) < 20  # type: ignore[call-overload]
    assert atm["verdict"] == NOISE
    assert atm["why"] == f"{atm['positives']} positives, fewer than 20"
    # and the other way round it is worse
    back = {(e["slice"], e["metric"]): e for e in _changes(frame, labels, Scored(scores, 0.45), Scored(scores, 0.7))}
    assert back["channel=online", "recall"]["verdict"] == WORSE
