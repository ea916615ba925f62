"""What one run of the loop is asked to do (`Options`, checked by the command), and the error its steps raise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_template.core.errors import MlopsTemplateError

SCENARIOS = ("none", "covariate_shift", "new_fraud_pattern", "prior_shift", "natural_variation")
RETRAIN = ("on-breach", "weekly")


class SimulationError(MlopsTemplateError):
    """A step of the loop failed (a command's exit status, a server that did not start, bad options)."""


@dataclass(frozen=True)
class Options:
    weeks: int
    scenario: str
    drift_week: int  # the simulated week (1-based) the drift starts at
    history: int  # weeks of data before the first simulated week
    strength: float
    seed: int | None
    retrain: str  # on-breach | weekly
    retrain_weeks: tuple[int, ...]  # simulated weeks (1-based) that retrain whatever the monitor says
    corrupt_labels: tuple[int, ...]  # simulated weeks (1-based) whose batch arrives with inverted labels
    base_params: Path
    workdir: Path
    last_week: str  # the last simulated week (ended before today)
