"""How far a study is: one line rewritten in place on a terminal, plain log lines otherwise.

trial n of N (finished trials, complete or pruned, resumes included), the best so far, how many
were pruned, and the time left: the mean time of a trial in this run, times the trials left, shared
among the workers, and never past the time budget.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from optuna.trial import FrozenTrial, TrialState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    finished: int
    budget: int
    pruned: int
    running: int
    best: tuple[int, float] | None  # (trial number, walk-forward average precision)
    seconds_left: float | None  # None: not known yet (no trial finished in this run)


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def snapshot(
    trials: Sequence[FrozenTrial], *, budget: int, jobs: int, known: set[int], deadline: float | None
) -> Snapshot:
    """Where the study is; `known` holds the trial numbers that had finished before this run began."""
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    complete = [t for t in finished if t.state == TrialState.COMPLETE and t.value is not None]
    best = max(complete, key=lambda t: (t.value, -t.number), default=None)
    durations = [d for t in finished if t.number not in known and (d := _duration(t)) is not None]
    left: float | None = None
    if len(finished) >= budget:
        left = 0.0
    elif durations:
        left = (budget - len(finished)) * (sum(durations) / len(durations)) / jobs
    if deadline is not None and left is not None:  # unknown stays unknown: the deadline is only a bound
        left = min(left, max(0.0, deadline - time.time()))
    return Snapshot(
        finished=len(finished),
        budget=budget,
        pruned=sum(t.state == TrialState.PRUNED for t in finished),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        best=(best.number, float(best.value)) if best is not None and best.value is not None else None,
        seconds_left=left,
    )


def clock(seconds: float) -> str:
    """`1h02m`, `4m05s`, `12s`."""
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def render(state: Snapshot) -> str:
    best = f"best {state.best[1]:.4f} (trial {state.best[0]})" if state.best else "best -"
    left = f"~{clock(state.seconds_left)} left" if state.seconds_left is not None else "time left -"
    return f"trial {state.finished}/{state.budget} | {best} | pruned {state.pruned} | {left}"


class Progress:
    """Shows snapshots: in place on a terminal, else one log line each time a trial finishes."""

    def __init__(self, stream: TextIO, *, terminal: bool) -> None:
        self.stream = stream
        self.terminal = terminal
        self._width = 0
        self._finished: int | None = None

    def show(self, state: Snapshot) -> None:
        line = render(state)
        if self.terminal:
            self.stream.write("\r" + line.ljust(self._width))
            self.stream.flush()
            self._width = len(line)
        elif state.finished != self._finished:
            logger.info("%s", line)
        self._finished = state.finished

    def close(self) -> None:
        if self.terminal and self._width:
            self.stream.write("\n")
            self.stream.flush()
