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


def pytest_runtest_makereport(item, call):
    """In CI (``.ci/run`` sets CI) nothing may be skipped: a skip there means a missing package or
    server that CI must install, so it is reported as a failure with the skip's reason."""
    import pytest

    if os.environ.get("CI") and call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception):
        reason = str(call.excinfo.value)
        call.excinfo = None
        try:
            pytest.fail(f"skipped in CI: {reason}", pytrace=False)
        except pytest.fail.Exception:
            import _pytest._code

            call.excinfo = _pytest._code.ExceptionInfo.from_current()


import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a whole module skipped while it is collected (``pytest.importorskip``)."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped:
        report.outcome = "failed"
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI: {reason}"
