"""The pure core never imports the UI stack (design §2).

import-linter cannot tell a module-scope import from a deferred one, so each module is imported for real in a fresh
interpreter and `sys.modules` is checked afterwards.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import liqtui

FORBIDDEN = ("textual", "plotext", "textual_plotext", "rich")
PURE_PACKAGES = ("liqtui.model", "liqtui.feeds", "liqtui.sim", "liqtui.config")


def _pure_modules() -> list[str]:
    names: list[str] = []
    for package in PURE_PACKAGES:
        names.append(package)
        module = __import__(package, fromlist=["__path__"])
        if hasattr(module, "__path__"):
            names.extend(info.name for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."))
    return names


@pytest.mark.parametrize("module", _pure_modules())
def test_pure_module_does_not_import_ui(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} pulled in {result.stdout.strip()}"


def test_version_is_exposed() -> None:
    assert liqtui.__version__.count(".") == 2
