"""`make bench`: every benchmark of the suite, one after another, each measured in one run on this machine.

Benchmarks are programs, not tests: they print figures and never pass or fail on a time.
Each one is a script beside this file (or gpu/bench/ for the GPU worker, in its own environment).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BENCHES = [
    ("bus", [sys.executable, "tests/bench/bus.py"]),
    ("auth", [sys.executable, "tests/bench/auth.py"]),
    ("upload", [sys.executable, "tests/bench/upload.py"]),
    ("catalog", [sys.executable, "tests/bench/catalog.py"]),
    ("media-dispatch", [sys.executable, "tests/bench/media_dispatch.py"]),
    ("purchase", [sys.executable, "tests/bench/purchase.py"]),
    ("dead letters", [sys.executable, "tests/bench/dlq.py", "--count", "20000"]),
    ("journey", [sys.executable, "tests/bench/journey.py"]),
    ("gpu ladder", ["gpu/.venv/bin/python", "gpu/bench/ladder.py"]),
]


def main() -> int:
    only = set(sys.argv[1:])
    failed = []
    for name, argv in BENCHES:
        if only and name.split()[0] not in only:
            continue
        script = ROOT / argv[1]
        if not script.exists():
            print(f"== {name}: not built yet ({argv[1]})\n", flush=True)
            continue
        print(f"== {name}", flush=True)
        if subprocess.run(argv, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
        print(flush=True)
    if failed:
        print(f"benchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
