"""The one exception type for problems a user can fix (bad config values, missing files, bad data)."""


class UserError(Exception):
    """A problem in the user's input; the message says what is wrong and which key or file to fix.

    Entry points print it as a single line and exit with status 2, instead of a traceback.
    """
