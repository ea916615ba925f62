"""The library the stages, the gate and the monitor share: features, estimator, metrics and statistics,
the ONNX export and the served artifact, the model card, tracking, and scoring a split with the artifact."""
