"""Fixtures shared by the tracking tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cuas.tracking import updater


@pytest.fixture
def kernels_on() -> Iterator[None]:
    """The compiled kernels on for the test (and on again after it, whatever it switched):
    the tests that hold them to the numpy oracle need numba to run here (see pyproject)."""
    updater.use_kernels(True)
    assert updater.kernels() is not None, "numba must run here (see pyproject)"
    yield
    updater.use_kernels(True)
