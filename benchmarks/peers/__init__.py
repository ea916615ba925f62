"""The servers bench-serve compares our API with, each in its own pinned environment (see environments.py)."""
