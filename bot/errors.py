"""Errors the command line shows as one line."""


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback, exit status 2."""
