"""Write the example's data: weekly CSV files of loan applications, one file per ISO week.

A second dataset of another shape and domain than the template's card transactions (other id, event
time and label names, other inputs), for `tests/project/test_example.py` and the README's "Adapt
it to your data". Deterministic: the same files for the same arguments.

    python examples/loan_applications/generate.py --out examples/loan_applications/data
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_WEEK = dt.date(2026, 7, 20)  # the Monday of 2026-W30
PURPOSES = ("debt_consolidation", "home_improvement", "car", "business", "education", "medical")
HOUSING = ("rent", "own", "mortgage")
TERMS = (12, 24, 36, 60)
NO_INCOME_STATED = 0.03  # share of applications without an income
NO_CREDIT_FILE = 0.05  # share without a credit score


def week_of_applications(rng: np.random.Generator, monday: dt.date, rows: int, first_id: int) -> pd.DataFrame:
    """One week of applications; the default probability rises with debt-to-income, term and low scores."""
    seconds = rng.integers(0, 7 * 86_400, size=rows)
    start = pd.Timestamp(monday, tz="UTC")
    submitted = start + pd.to_timedelta(np.sort(seconds), unit="s")
    income = np.round(rng.lognormal(mean=10.9, sigma=0.45, size=rows), 2)
    amount = np.round(np.clip(rng.lognormal(mean=9.3, sigma=0.7, size=rows), 500, 100_000), 2)
    score = np.clip(np.round(rng.normal(680, 70, size=rows)), 300, 850).astype(int)
    term = rng.choice(TERMS, size=rows, p=[0.2, 0.3, 0.35, 0.15])
    years = np.round(np.clip(rng.exponential(6.0, size=rows), 0, 50), 1)
    purpose = rng.choice(PURPOSES, size=rows, p=[0.35, 0.2, 0.2, 0.1, 0.1, 0.05])
    housing = rng.choice(HOUSING, size=rows, p=[0.45, 0.2, 0.35])
    logit = (
        -2.6
        + 2.2 * np.minimum(amount / income, 2.0)
        - 0.012 * (score - 680)
        + 0.015 * (term - 36)
        + 0.6 * (purpose == "business")
        + 0.35 * (housing == "rent")
        - 0.04 * years
    )
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "application_id": [f"app-{first_id + i:06d}" for i in range(rows)],
            "submitted_at": submitted.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "applicant_id": [f"p-{n:05d}" for n in rng.integers(0, 20_000, size=rows)],
            "loan_amount": amount,
            "annual_income": income,
            "term_months": term,
            "credit_score": score.astype("float"),
            "employment_years": years,
            "purpose": purpose,
            "housing": housing,
            "defaulted": defaulted,
        }
    )
    # Gaps where real applications have them: an income not stated, no credit file yet.
    frame.loc[rng.random(rows) < NO_INCOME_STATED, "annual_income"] = np.nan
    frame.loc[rng.random(rows) < NO_CREDIT_FILE, "credit_score"] = np.nan
    frame["credit_score"] = frame["credit_score"].astype("Int64")
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("data"))
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--rows", type=int, default=400, help="applications a week")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for week in range(args.weeks):
        monday = FIRST_WEEK + dt.timedelta(weeks=week)
        year, number, _ = monday.isocalendar()
        frame = week_of_applications(rng, monday, args.rows, first_id=week * args.rows)
        frame.to_csv(args.out / f"{year}-W{number:02d}.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
