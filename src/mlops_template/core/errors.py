"""Errors a user can meet. Each message names the field, the value and the rule."""


class MlopsTemplateError(Exception):
    """Base class: the CLI turns these into one readable line and exit code 2."""


class ConfigError(MlopsTemplateError):
    """params.yaml (or a settings variable) is missing, malformed or breaks a rule."""


class DataContractError(MlopsTemplateError):
    """A batch breaks the data contract in a way that cannot be quarantined row by row."""


class StageInputError(MlopsTemplateError):
    """A stage's input artifact is missing or not what the previous stage writes."""


class SourceError(MlopsTemplateError):
    """The configured data source cannot produce the requested batch."""


class NoNewBatchError(SourceError):
    """The source has nothing new to add: not an error for a scheduled run (the CLI exits 3)."""


class GitHubApiError(MlopsTemplateError):
    """GitHub refused a request (bad token, missing rights, unknown user or repo, invalid body)."""
