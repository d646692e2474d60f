"""The chi-square quantile of cuas.tracking.quantiles against scipy.stats.chi2.ppf."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2 as scipy_chi2

from cuas.tracking.quantiles import chi2


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 6, 9, 0.5, 40])
@pytest.mark.parametrize("p", [1e-9, 0.01, 0.5, 0.9, 0.95, 0.99, 0.997, 0.9999, 1 - 1e-9])
def test_quantile_matches_scipy(dof: float, p: float) -> None:
    assert chi2.ppf(p, dof) == pytest.approx(scipy_chi2.ppf(p, dof), rel=1e-9, abs=0.0)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(1e-6, 1 - 1e-6), dof=st.integers(1, 12))
def test_quantile_matches_scipy_anywhere(p: float, dof: int) -> None:
    assert chi2.ppf(p, dof) == pytest.approx(scipy_chi2.ppf(p, dof), rel=1e-9, abs=0.0)


def test_ends_and_bad_arguments() -> None:
    assert chi2.ppf(0.0, 3) == 0.0
    assert chi2.ppf(1.0, 3) == math.inf
    with pytest.raises(ValueError):
        chi2.ppf(1.5, 3)
    with pytest.raises(ValueError):
        chi2.ppf(0.5, 0)


def test_importing_the_tracker_leaves_scipy_stats_unloaded() -> None:
    import subprocess
    import sys

    code = ("import sys, cuas.tracking, cuas.tracking.tracker; "
            "print(any(m.startswith(('scipy.stats', 'scipy.optimize')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
