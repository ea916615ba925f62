"""Tune and compare models: `mlops-template tune` (Optuna over walk-forward folds of the training and
validation weeks, never the test weeks), with DVC experiments for grids. What they propose reaches
production the same way as every other change: a pull request, its report and the promotion gate."""
