"""The one exception type for problems a user can fix (bad config values, missing files, bad data)."""


class UserError(Exception):
    """A problem in the user's input; the message says what is wrong and which key or file to fix.

    Entry points print it as a single line and exit with status 2, instead of a traceback.
    """


def positive_int(name: str, value: object) -> int:
    """``value`` if it is a whole number of at least 1 (a bool is not); else a ``UserError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name} must be a positive integer, got {value!r}")
    return value
