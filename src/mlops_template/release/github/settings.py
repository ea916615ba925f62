"""What the bootstrap asks GitHub for, in one place (the workflow tests compare these with ci.yml)."""

from __future__ import annotations

# The `name:` of each job in .github/workflows/ci.yml: GitHub reports a job's check under that name.
REQUIRED_CHECKS: tuple[str, ...] = ("lint", "fast tier", "slow tier", "wheel and sdist")
# GitHub Actions' own app id: only a check reported by Actions satisfies the rule, not one that
# another app (or a commit status from any token) posts under the same name.
GITHUB_ACTIONS_APP_ID = 15368

PROTECTED_BRANCH = "main"
AUDIT_BRANCH = "audit"  # the audit trail (mlops_template.release.audit.BRANCH): append-only
STAGING = "staging"
PRODUCTION = "production"
REQUIRED_APPROVALS = 1
MAX_REVIEWERS = 6  # GitHub's limit for an environment's required reviewers

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
