"""The approval gate in one command: GitHub environments and branch protection over the REST API.

`mlops-template github bootstrap --repo OWNER/NAME --reviewer USER...` (see `bootstrap.py`).
"""
