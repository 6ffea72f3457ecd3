"""User-facing errors.

A ``ChefbotError`` is a mistake the user can fix (a bad path, a bad config key, a
malformed row).  The CLI prints its message on one line and exits non-zero without
a traceback; everything else is a bug and keeps its traceback.

Exit codes: 2 when the command line or the config is wrong (as for click's usage
errors), 1 when the input data is (an empty or all-bad source, a malformed row).
"""

from __future__ import annotations


class ChefbotError(Exception):
    """An error caused by input the user controls; the message says what to fix."""

    exit_code = 2


class UsageError(ChefbotError):
    """A command line or config that asks for something unsafe or contradictory (an empty API key, a
    public address without a key): refused before anything starts, exit 2; the message says what to do."""


class ConfigError(ChefbotError):
    """A config file or override that does not validate."""


class DataError(ChefbotError):
    """Input data that cannot be read (file, row, field named in the message)."""

    exit_code = 1
