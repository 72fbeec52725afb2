"""Shared pytest configuration: each fake registers its fixtures as a plugin module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins: list[str] = [
    "tests.fakes.discord.plugin",
    "tests.fakes.toapis_plugin",
    "tests.app.plugin",
    "tests.storage.backends",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI, turn a skip into a failure: CI provides everything the tests need."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (CI must provide what this test needs): {reason}"
