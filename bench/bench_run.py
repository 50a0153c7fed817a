"""Wall time of the full headless lab run and each notebook's share.  Usage: bench_run.py [REPEATS]"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import conditions  # noqa: E402

from runbook_lib.run.context import STEPS  # noqa: E402
from runbook_lib.run.runner import run  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    root = Path(__file__).resolve().parents[1]
    import os
    os.environ.setdefault("RUNBOOK_RUNS_DIR", tempfile.mkdtemp(prefix="bench-runs-"))
    print(conditions())
    print(f"repeats: {repeats}, parameters: parameters/lab.yaml (sample data: 2,000 customers, 6,000 orders)\n")
    totals, shares = [], {n: [] for n in STEPS}
    for i in range(repeats):
        log = io.StringIO()
        started = time.monotonic()
        result = run(str(root / "parameters" / "lab.yaml"), log=log)
        total = time.monotonic() - started
        if not result.ok:
            print(log.getvalue())
            raise SystemExit(f"run {i + 1} failed: {result.failure}")
        lab = float(log.getvalue().split("lab ready in ")[1].split(" s")[0])
        totals.append(total)
        print(f"run {i + 1}: {total:5.1f} s total (lab reset {lab:.1f} s) " +
              " ".join(f"{n}={t:.1f}s" for n, t in result.timings.items()))
        for n, t in result.timings.items():
            shares[n].append(t)
    print(f"\nfull run: median {statistics.median(totals):.1f} s, min {min(totals):.1f} s, max {max(totals):.1f} s")
    for n, values in shares.items():
        print(f"  {n} {STEPS[n][0]:<22} median {statistics.median(values):4.1f} s "
              f"({100 * statistics.median(values) / statistics.median(totals):4.1f} %)")


if __name__ == "__main__":
    main()
