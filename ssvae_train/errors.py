"""One exception type for problems the user can fix: the CLIs print its message as one line and exit 2."""


class UserError(Exception):
    """Bad input (missing file, corrupt archive, impossible option): reported without a traceback."""
