#!/usr/bin/env python3
"""Benchmark: start-up cost of ``import cuas.tracking`` and of ``cuas --help``.

Each command runs in a fresh interpreter ``--runs`` times (wall time of the whole process, so
interpreter start-up is included); the minimum is the figure least disturbed by other work on
the machine, and ``python -c pass`` and ``import numpy`` timed in the same run give the floor.
Target (issue 15): ``import cuas.tracking`` and ``cuas --help`` under 0.3 s. The compiled
tracker kernels (numba) load only when the first tracker is built; their line shows that cost.

Run ``python benchmarks/bench_imports.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = (
    ("python -c pass", "pass"),
    ("import numpy", "import numpy"),
    ("import cuas.tracking", "import cuas.tracking"),
    ("import cuas.tracking.tracker", "import cuas.tracking.tracker"),
    # What the same import cost before issue 15 (it pulled these in at module level).
    ("  same + scipy.stats/optimize", "import cuas.tracking, scipy.stats, scipy.optimize, "
                                      "scipy.spatial, scipy.sparse.csgraph"),
    # numba and the compiled tracker kernels, loaded from their on-disk cache: paid once, when
    # the first tracker is built (never by `import cuas.tracking` or `cuas --help`).
    ("  + tracker kernels (cached)", "import cuas.tracking\n"
                                     "from cuas.tracking.updater import kernels\n"
                                     "kernels().warm()"),
    ("cuas --help", "import sys; sys.argv = ['cuas', '--help']\n"
                    "from cuas.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass"),
)


def _time(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="fresh interpreters per case")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    samples: dict[str, list[float]] = {name: [] for name, _ in CASES}
    for _ in range(args.runs):  # interleaved, so load changes hit every case alike
        for name, code in CASES:
            samples[name].append(_time(code, env))
    print(f"{'command':32} {'min':>8} {'median':>8}   (s, {args.runs} fresh interpreters each; "
          f"load average {os.getloadavg()[0]:.1f})")
    for name, _ in CASES:
        s = samples[name]
        print(f"{name:32} {min(s):8.3f} {statistics.median(s):8.3f}")


if __name__ == "__main__":
    main()
