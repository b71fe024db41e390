"""Logging to a rotating file under the XDG state directory, never to the terminal (the TUI owns the screen).

websockets logs every reconnect at INFO and aiohttp logs its own chatter; both go to the same file, at WARNING
unless liqtui logs at DEBUG.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from liqtui.config import LOG_LEVELS, user_state_dir
from liqtui.errors import ConfigError

LOG_FILE_NAME = "liqtui.log"
"""The log file's name under the XDG state directory."""

MAX_LOG_BYTES = 5 * 1024 * 1024
"""The size at which the log file is rotated."""

LOG_BACKUPS = 3
"""How many rotated log files are kept (liqtui.log.1 ... liqtui.log.3)."""

LIBRARY_LOGGERS = ("websockets", "aiohttp")
"""Libraries whose loggers are quietened to WARNING unless liqtui logs at DEBUG."""

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
"""One log line: time, level, logger and message."""


class _LiqtuiFileHandler(logging.handlers.RotatingFileHandler):
    """The handler `setup_logging` installs; its own class, so a second call finds and replaces it."""


def default_log_path() -> Path:
    """`$XDG_STATE_HOME/liqtui/liqtui.log` (or the platform's user state directory)."""
    return user_state_dir() / LOG_FILE_NAME


def setup_logging(log_file: Path | None, level: str) -> Path:
    """Send every log record at `level` or above to a rotating file, and return the file's path.

    `log_file` None means `default_log_path()`. The root logger gets one file handler and no stream handler.
    Calling again replaces the handler a previous call installed, so handlers never pile up. Raises
    ConfigError when `level` is not a logging level name or the file cannot be opened for writing.
    """
    level_name = level.upper()
    if level_name not in LOG_LEVELS:
        raise ConfigError(f"{level!r} is not a log level: use one of {', '.join(LOG_LEVELS)}.")
    path = (log_file if log_file is not None else default_log_path()).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _LiqtuiFileHandler(path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            f"{path}: cannot write the log file ({reason}); name another with --log-file or [log] file."
        ) from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LiqtuiFileHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level_name)
    library_level = logging.DEBUG if level_name == "DEBUG" else logging.WARNING
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    return path
