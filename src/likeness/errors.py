"""The one small error hierarchy: every failure a user can act on is a LikenessError.

The CLI turns each into one line on stderr and its ``exit_code``; nothing else is caught
silently.
"""


class LikenessError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(LikenessError):
    """A file or argument the user gave is missing, corrupt, too big or of the wrong kind."""

    exit_code = 2


class ConsentError(LikenessError):
    """No valid grant covers this use of a likeness."""

    exit_code = 3


class VaultError(LikenessError):
    """The vault cannot be opened or is damaged (wrong passphrase, corrupt blob, not initialised)."""

    exit_code = 4


class NoFaceError(InputError):
    """A target or enrolment image holds no usable face."""
