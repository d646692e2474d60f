"""Suite-wide rules: skips are visible (``-rs``), and under ``CI=true`` a skip is a failure.

A fresh user's clone may lack ``../shared/data`` or an optional test dependency, and those tests
skip with a stated reason. CI has both, so there a skip means something is missing that should
not be: it fails the run instead of hiding tests. A test whose skip depends on the machine, not
on the checkout (a capability CI may lack), is marked ``@pytest.mark.machine_dependent`` and
may still skip.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from hypothesis import settings

# Speed is measured in benchmarks/, never by a timed unit test: on a shared or loaded machine
# hypothesis's default 200 ms per-example deadline fails correct code. Examples stay bounded by
# each test's max_examples and strategies' sizes.
settings.register_profile("cuas", deadline=None)
settings.load_profile("cuas")

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "machine_dependent: may skip under CI=true (the machine lacks a capability)")


def _fail_skip(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{what} skipped under CI=true (data or test dependency missing): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if (CI and report.skipped and not hasattr(report, "wasxfail")
            and item.get_closest_marker("machine_dependent") is None):
        _fail_skip(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if CI and report.skipped:
        _fail_skip(report, collector.nodeid or str(collector.path))
