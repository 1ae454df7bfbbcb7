"""Errors the user can fix. The CLI prints them as one line and exits with status 2."""


class RnntuiError(Exception):
    """Base class for problems with the user's input (files, flags, checkpoints).

    The message is one line that names the problem and how to fix it.
    """


class CorpusError(RnntuiError):
    """The training text cannot be used (missing, empty, binary, badly encoded...)."""


class ConfigError(RnntuiError):
    """A configuration value is out of range."""


class CheckpointError(RnntuiError):
    """A checkpoint file cannot be read or does not fit the corpus."""
