"""The model API: FastAPI + uvicorn over the exported artifact (never pandas, scikit-learn, DVC or MLflow).

Kept import-light on purpose: `artifact` is also used by the pipeline, and `mlops-template --help`
should not pay for FastAPI. The app is built by `app.create_app`; `mlops-template serve` runs it.
"""
