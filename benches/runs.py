#!/usr/bin/env python3
"""Times a command over repeated runs (benches/render.sh, for the seed stream): each run gets
INPUT on stdin and its stdout goes to /dev/null; wall time per run (fork to exit, read with
perf_counter) and CPU time (user+sys of that process and its threads, from wait4's rusage, in
microseconds, where GNU time rounds to 10 ms). Prints the medians: "wall_ms cpu_ms". (Not peak
RSS: a child's ru_maxrss counts the Python it was forked from; render.sh takes it from GNU time.)

usage: runs.py N INPUT command [args...]   (a first run, not counted, warms the page cache)
"""
import os
import subprocess
import sys
import time


def run(cmd, path):
    with open(path, "rb") as stdin:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"runs.py: {' '.join(cmd)} failed (wait status {status})")
    return wall * 1e3, (usage.ru_utime + usage.ru_stime) * 1e3


def median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    n, path, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    run(cmd, path)
    runs = [run(cmd, path) for _ in range(n)]
    wall, cpu = (median([r[i] for r in runs]) for i in range(2))
    print(f"{wall:.2f} {cpu:.2f}")


if __name__ == "__main__":
    main()
