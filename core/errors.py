"""Errors the CLI turns into one line on stderr and an exit code, never a traceback."""


class UserError(Exception):
    """Bad input from the user (recipe, arguments, missing data): exit code 2."""

    exit_code = 2


class PluginError(UserError):
    """A plugin failed to import or broke a hook's contract; the message names it."""



class ResourceError(UserError):
    """The machine lacks what the run needs to go on (disk space): one line, exit code 1."""

    exit_code = 1
