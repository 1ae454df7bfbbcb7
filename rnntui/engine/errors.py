"""Errors the user can fix. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class RnntuiError(Exception):
    """Base class for problems with the user's input (files, flags, checkpoints).

    ``problem`` says what is wrong; ``hint``, when there is one, how to fix it.
    ``str(error)`` is both as one line, which is what the CLI prints; the app
    may show the parts apart.
    """

    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(problem if hint is None else f"{problem}; {hint}")
        self.problem = problem
        self.hint = hint

    def __reduce__(self):
        # rebuilt from the two parts (the default would pass the joined message as the problem)
        return (self.__class__, (self.problem, self.hint))


class CorpusError(RnntuiError):
    """The training text cannot be used (missing, empty, binary, badly encoded...)."""


class ConfigError(RnntuiError):
    """A configuration value is out of range.

    ``field`` names the Config field and ``wanted`` what it takes ("a positive
    number"), so a front-end can give advice in its own words: the CLI names the
    flag (``set --clip to a positive number``), the app the form's field.
    """

    def __init__(self, problem: str, field: str | None = None, wanted: str | None = None) -> None:
        hint = f"set {field} to {wanted}" if field is not None and wanted is not None else None
        super().__init__(problem, hint)
        self.field = field
        self.wanted = wanted

    def __reduce__(self):
        return (self.__class__, (self.problem, self.field, self.wanted))


class CheckpointError(RnntuiError):
    """A checkpoint file cannot be read or does not fit the corpus."""


class ResumeMismatch(CheckpointError):
    """A setting given for a resumed run differs from the one the checkpoint was trained with."""

    def __init__(self, field: str, given: object, saved: object, checkpoint: str) -> None:
        super().__init__(
            f"{field} {given} differs from {checkpoint}, which was trained with {field} {saved}",
            f"leave {field} out to resume, or start a new run",
        )
        self.field, self.given, self.saved, self.checkpoint = field, given, saved, checkpoint

    def __reduce__(self):
        return (self.__class__, (self.field, self.given, self.saved, self.checkpoint))
