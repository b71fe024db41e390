"""Errors with a title and one clear sentence, raised by the pure core and reported by the CLI or the app.

The CLI prints `str(error)` to stderr and exits with `exit_code` (design §7.1: 2 for usage and configuration
errors, 1 for anything else).
"""

from __future__ import annotations


class LiqtuiError(Exception):
    """Base of every error liqtui reports to a person."""

    title = "Error"
    """A short heading for the error, for a notification or a log line."""

    exit_code = 1
    """The process exit code when this error ends a command."""


class UsageError(LiqtuiError):
    """The command line asks for something that cannot be done as written."""

    title = "Usage error"
    exit_code = 2


class ConfigError(LiqtuiError):
    """A configuration file is missing, unreadable, or has an unknown key or a bad value."""

    title = "Configuration error"
    exit_code = 2


class UnknownInstrumentError(UsageError):
    """An instrument name that is malformed, or that its exchange does not list."""

    title = "Unknown instrument"


class RecordingError(UsageError):
    """A recording that is missing, unreadable, or not in the recording format (design §7.5)."""

    title = "Bad recording"


class ScenarioError(UsageError):
    """A simulator scenario file with an unknown key or a bad value."""

    title = "Bad scenario"


class FeedError(LiqtuiError):
    """An exchange could not be reached or refused what was asked of it."""

    title = "Feed error"
