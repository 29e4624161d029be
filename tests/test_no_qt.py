"""``layers`` and ``analysis`` (and the command line) never import Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_qt_in_layers_analysis_and_cli():
    modules = [
        "layers",
        "analysis",
        "layers.readers",
        "layers.writers",
        "layers.project",
        "layers.style",
        "layers.crs",
        "analysis.coverage",
        "analysis.runner",
    ]
    if (ROOT / "app" / "cli.py").exists():
        modules.append("app.cli")
    code = "\n".join(
        [
            "import importlib, sys",
            *(f"importlib.import_module({m!r})" for m in modules),
            "from layers.style import Style, symbolize",  # symbolize imports matplotlib lazily: still no Qt
            "import pandas as pd",
            "symbolize(Style(kind='graduated', field='v'), pd.DataFrame({'v': [1.0, 2.0, 3.0]}))",
            "qt = ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6')",
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in qt)",
            "print(bad)",
            "sys.exit(1 if bad else 0)",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "[]"
