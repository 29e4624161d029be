"""Test-wide set-up: the tests never touch the user's CityDesk settings, recent projects or
autosave folder (XDG folders point into a temporary folder, inherited by subprocesses too)."""

from __future__ import annotations

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="citydesk-tests-")
for _var, _sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache"),
                   ("CITYDESK_AUTOSAVE_DIR", "autosave")):
    os.environ[_var] = os.path.join(_HOME, _sub)
    os.makedirs(os.environ[_var], exist_ok=True)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
