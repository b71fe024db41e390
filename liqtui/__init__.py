"""liqtui: a live crypto liquidation map for the terminal.

The package root imports nothing heavy: `liqtui.model`, `liqtui.feeds`, `liqtui.sim` and `liqtui.config` must be
importable without Textual or plotext (tests/unit/test_import_hygiene.py proves it).
"""

__version__ = "0.1.0"
