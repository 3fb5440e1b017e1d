"""Errors that the command line turns into one-line messages."""


class UsageError(Exception):
    """Bad input from the user: the CLI prints the message on one line and exits with 2."""

    exit_code = 2


class InputSizeError(UsageError):
    """A model cannot take the requested input size. The message says where and why, in
    words that fit any front end; each adds how to choose another size (``--input``, ``i``)."""


class NeedsValuesError(UsageError):
    """A model's forward needs tensor values (``.item()``, a data-dependent branch), so it
    cannot run on the meta device; a real forward (``--device cpu``) can analyse it."""


class BatchSizeError(UsageError):
    """A batch too large for a tensor to hold; each front end adds how to choose a smaller one."""
