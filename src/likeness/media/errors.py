"""The one error media raises, so callers catch a single class for any unreadable file."""

from __future__ import annotations

from likeness.errors import InputError


class MediaError(InputError):
    """A media file is missing, empty, corrupt, too big or of a kind likeness does not read.

    The message is one line that starts with the file's path, so the CLI can print it as is.
    """
