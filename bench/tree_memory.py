"""Peak memory of a whole build: the build process and its chart workers together.

`run.py` records `ru_maxrss`, the peak of the largest single process. This samples the sum of
`Pss` (each shared page counted once, split between its sharers) from
`/proc/<pid>/smaps_rollup` over the build and its child processes every 0.1 s (Linux only):

    python bench/tree_memory.py SITE/config.yaml [--memory-limit 2GB]

Output and cache go to fresh folders under /tmp (a cold build).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return [pid] + [p for c in children for p in tree(c)]


def field_bytes(path: str, name: str) -> int:
    try:
        with open(path, encoding="ascii") as stream:
            for line in stream:
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args()
    out, cache = "/tmp/carecard-tree-memory-out", "/tmp/carecard-tree-memory-cache"
    for folder in (out, cache):
        shutil.rmtree(folder, ignore_errors=True)
    build = subprocess.Popen([sys.executable, "-m", "generator", "build", "--config",
                              str(Path(args.config).resolve()),
                              "--output", out, "--cache-dir", cache, "--memory-limit",
                              args.memory_limit, "--quiet"],
                             # the generator of this checkout, as in stages.py
                             cwd=Path(__file__).resolve().parent.parent)
    started = time.time()
    peak = peak_main = processes = 0
    peak_at = 0.0
    while build.poll() is None:
        pids = tree(build.pid)
        total = sum(field_bytes(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
        if total > peak:
            peak, processes, peak_at = total, len(pids), time.time() - started
        peak_main = max(peak_main, field_bytes(f"/proc/{build.pid}/status", "VmRSS:"))
        time.sleep(0.1)
    print(f"exit {build.returncode}; {time.time() - started:.1f} s; peak PSS of the process tree "
          f"{peak / 2**30:.3f} GiB ({processes} processes, at {peak_at:.1f} s); peak RSS of the "
          f"build process {peak_main / 2**30:.3f} GiB")
    return build.returncode


if __name__ == "__main__":
    sys.exit(main())
