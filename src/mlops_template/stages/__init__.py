"""One module per DVC stage: ingest -> featurize -> train -> evaluate -> register."""
