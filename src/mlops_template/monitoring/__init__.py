"""Monitoring the served model: the reference profile, the detectors, the report and the log reader."""
