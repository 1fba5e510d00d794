"""Suite-wide rules: count skips, and fail on any skip where nothing may be missing."""

from __future__ import annotations

import os

import pytest

STRICT = os.environ.get("VMIM_STRICT_SKIPS") == "1" or os.environ.get("CI") == "true"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.write_line(f"skipped tests: {len(skipped)}")
    if skipped and STRICT:
        terminalreporter.write_line(
            "FAILED: tests skipped where the setup provides everything they need", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and STRICT and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
