"""File logging under the XDG state directory: never the terminal, one handler however often it is set up."""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import liqtui.logs
from liqtui.config import LOG_LEVELS
from liqtui.errors import ConfigError
from liqtui.logs import LIBRARY_LOGGERS, setup_logging


@pytest.fixture(autouse=True)
def isolated_logging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private XDG state directory, and the root and library loggers put back as they were afterwards."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    level_before = root.level
    library_levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    yield
    for handler in [h for h in root.handlers if h not in handlers_before]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level_before)
    for name, level in library_levels.items():
        logging.getLogger(name).setLevel(level)


def _added_handlers(before: list[logging.Handler]) -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h not in before]


def test_default_file_is_under_xdg_state_home(tmp_path: Path) -> None:
    path = setup_logging(None, "INFO")
    assert path == tmp_path / "state" / "liqtui" / "liqtui.log"
    logging.getLogger("liqtui.test").info("hello %s", "file")
    logging.getLogger("liqtui.test").debug("too quiet")
    text = path.read_text(encoding="utf-8")
    assert "hello file" in text
    assert "too quiet" not in text


def test_only_a_file_handler_is_added_and_nothing_reaches_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = list(logging.getLogger().handlers)
    path = setup_logging(tmp_path / "deep" / "dir" / "x.log", "DEBUG")
    added = _added_handlers(before)
    assert len(added) == 1
    assert isinstance(added[0], logging.handlers.RotatingFileHandler)
    assert Path(added[0].baseFilename) == path
    logging.getLogger("liqtui.test").error("an error for the file only")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert "an error for the file only" in path.read_text(encoding="utf-8")


def test_calling_twice_keeps_one_handler_and_moves_to_the_new_file(tmp_path: Path) -> None:
    before = list(logging.getLogger().handlers)
    first = setup_logging(tmp_path / "first.log", "INFO")
    second = setup_logging(tmp_path / "second.log", "INFO")
    again = setup_logging(tmp_path / "second.log", "INFO")
    assert again == second
    assert len(_added_handlers(before)) == 1
    logging.getLogger("liqtui.test").warning("after the switch")
    assert "after the switch" in second.read_text(encoding="utf-8")
    assert "after the switch" not in first.read_text(encoding="utf-8")


def test_library_loggers_are_quiet_unless_debug(tmp_path: Path) -> None:
    path = setup_logging(tmp_path / "x.log", "INFO")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(f"{name}.client").info(f"{name} chatter")
        logging.getLogger(f"{name}.client").warning(f"{name} trouble")
    text = path.read_text(encoding="utf-8")
    for name in LIBRARY_LOGGERS:
        assert f"{name} chatter" not in text
        assert f"{name} trouble" in text

    path = setup_logging(tmp_path / "debug.log", "debug")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(f"{name}.client").debug(f"{name} detail")
    text = path.read_text(encoding="utf-8")
    for name in LIBRARY_LOGGERS:
        assert f"{name} detail" in text


def test_file_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liqtui.logs, "MAX_LOG_BYTES", 500)
    path = setup_logging(tmp_path / "x.log", "INFO")
    for number in range(100):
        logging.getLogger("liqtui.test").info("line %d of a long enough message", number)
    assert path.with_name("x.log.1").exists()
    assert not path.with_name(f"x.log.{liqtui.logs.LOG_BACKUPS + 1}").exists()
    assert path.stat().st_size <= 500


def test_bad_level_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'LOUD' is not a log level"):
        setup_logging(tmp_path / "x.log", "LOUD")


def test_log_levels_are_logging_level_names() -> None:
    mapping = logging.getLevelNamesMapping()
    assert [mapping[name] for name in LOG_LEVELS] == sorted(mapping[name] for name in LOG_LEVELS)


def test_unwritable_place_is_a_config_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("", encoding="utf-8")
    target = not_a_dir / "x.log"
    with pytest.raises(ConfigError, match=re.escape(f"{target}: cannot write the log file")):
        setup_logging(target, "INFO")
