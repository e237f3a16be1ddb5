"""The one exception type that stages report as a single line."""


class UserError(Exception):
    """Bad input or missing files: the message names the problem and the fix."""
