"""Tune and compare models: `mlops-template tune` (Optuna over walk-forward folds of the training and
validation weeks, never the test weeks), with DVC experiments for grids. What they propose reaches
production the same way as every other change: a pull request, its report and the promotion gate.

`tune` (the command) opens a `study` (its storage, its name, resuming after a kill) and runs it in
`workers`: each trial takes its params from `search_space` and is measured by the `objective` on the
`folds`. `progress` shows it, `trial_runs` logs it to MLflow, and `tuning_report` (with `charts` and
`params_edit`, the line editor behind `--apply`) writes the result.

`compare/` (`mlops-template compare`) puts models from any REF (a revision, a DVC experiment, a
registry alias, a directory, the baseline) side by side on the test rows, and with `--ablate`
retrains once per input left out: what each input is worth."""
