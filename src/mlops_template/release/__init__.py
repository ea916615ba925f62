"""From pull request to production: the promotion gate, the registry's aliases, the PR report, the
audit trail, fetching a registered model, and the GitHub bootstrap."""
