"""`mlops-template simulate`: the closed loop, week by week, with the real pieces on this machine.

In a working copy of the project (`--workdir`), with a simulated calendar that ends before today
(the batches' event times must lie in the past, or next-batch and ingest refuse them):

0. `data generate` writes the history, `dvc repro` trains the first model, `gate --champion none`
   passes it: the first champion (a served directory the simulator keeps, with its reference profile).
Then each simulated week W:
1. the champion serves W's traffic: the real API (`mlops-template serve`, uvicorn on 127.0.0.1, an API
   key) answers bounded batches of POST /v1/predict, every answer in its prediction log;
2. the labels of W-1 arrive, a week late: one POST /v1/feedback per prediction;
3. the labelled batch of W lands: `mlops-template data next-batch` (optionally with its labels
   corrupted, `--corrupt-labels W`: an upstream export that inverted them);
4. `mlops-template monitor` judges the window since the later of W-1's traffic and the champion's
   promotion (W-1 holds the labels, W the newest inputs) against the champion's reference profile;
5. on a breach (or every week with `--retrain weekly`): `dvc repro` on the data to date, `gate` of the
   candidate against the champion on the newest week, and on a pass the candidate becomes the
   champion (the API restarts with it).
Everything is recorded in `timeline.json` (live AP and recall from the ground truth, the monitor's
statistics, alarms, gate decisions, promotions) and drawn in `loop.svg`.

The registry of this loop is a directory (`champion/`), not MLflow: `tracking.enabled` is off in the
working copy, so nothing is logged anywhere else.

The modules: `options` (what a run is asked to do), `working_copy` (the project copied into
`--workdir`, and its commands), `api` (the served model, its traffic and feedback, the live metrics),
`loop` (the weeks), `plot` (`loop.svg`), `command` (the command line; `python -m` runs it).
"""
