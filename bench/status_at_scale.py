#!/usr/bin/env python3
"""Benchmark: `godzilla --version` and `godzilla status` on a synthetic repository.

Builds a repository with 1,000 protocols, 20,000 steps and 200,000 events (real event lines
that godzilla's fold accepts), lets `godzilla fsck --repair` build the status views, then
prints the median wall time and peak RSS of each command over repeated runs. `status` reads a
protocol's state from the machine-local record of its log when the log is unchanged since it
was last read (`$GIT_COMMON_DIR/godzilla/cache/tails/`); the "cold" rows remove those records
before each run, as after a clone or an agent's run.

Usage: bench/status_at_scale.py [--godzilla PATH] [--runs N] [--protocols N] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"
STEPS_PER_PROTOCOL = 20
# fsck --repair adds one `repaired` event per protocol when it builds the views.
EVENTS_PER_PROTOCOL = 199


def event(lamport, protocol, kind, step=None, n=0):
    e = {
        "id": f"{protocol[:4]}{lamport:06x}{n:04x}",
        "lamport": lamport,
        "ts": "2001-02-03T04:05:06Z",
        "protocol": protocol,
        "type": kind,
        "message": kind.replace("_", " "),
    }
    if step:
        e["step"] = step
    return json.dumps(e, separators=(",", ":"))


def protocol_log(protocol):
    steps = [f"{i + 1:02d}-step-{i + 1}" for i in range(STEPS_PER_PROTOCOL)]
    kinds = [("protocol_created", None), ("planning_started", None)]
    kinds += [("step_added", s) for s in steps]
    kinds += [("planned", None), ("protocol_started", None)]
    for s in steps:
        kinds += [(k, s) for k in ("step_started", "step_executed", "qa_failed", "step_retried",
                                   "step_started", "step_executed", "qa_passed")]
    while len(kinds) < EVENTS_PER_PROTOCOL:
        kinds.append(("budget_warning", None))
    return "".join(event(i + 1, protocol, k, s) + "\n" for i, (k, s) in enumerate(kinds))


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, stdout=subprocess.DEVNULL)


def build(root, godzilla, protocols):
    os.makedirs(root, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "init")
    subprocess.run([godzilla, "-q", "init"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    base = os.path.join(root, ".godzilla", "protocols")
    for n in range(1, protocols + 1):
        pid = f"{n:04d}-synthetic-{n}"
        d = os.path.join(base, pid)
        os.makedirs(d)
        with open(os.path.join(d, "protocol.toml"), "w") as f:
            f.write(f'id = "{pid}"\ndescription = "synthetic"\nbase_branch = "main"\n'
                    f'branch = "godzilla/{pid}"\ncreated = "2001-02-03T04:05:06Z"\nsource = "manual"\n')
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            f.write(protocol_log(pid))
    # Views are built by godzilla itself: fsck folds every log and writes every view.
    subprocess.run([godzilla, "-q", "fsck", "--repair"], cwd=root, check=False, stdout=subprocess.DEVNULL)
    subprocess.run([godzilla, "fsck"], cwd=root, check=True, stdout=subprocess.DEVNULL)


def measure(cmd, cwd, runs, cold=False):
    """Median wall time (ms) and peak RSS (MB) of `cmd` over `runs` runs.

    RSS comes from GNU time: a child forked from Python inherits this interpreter's resident
    pages and the kernel carries that high-water mark across exec, so Python's own wait4
    figures would report Python's size, not godzilla's.
    """
    times, rss = [], []
    tails = os.path.join(cwd, ".git", "godzilla", "cache", "tails")
    for _ in range(runs):
        if cold:
            # No machine-local record of any log: what the first command after a clone, a
            # fetch or an agent's run sees.
            shutil.rmtree(tails, ignore_errors=True)
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{cmd} failed with {done.returncode}")
        if cold:
            shutil.rmtree(tails, ignore_errors=True)
        timed = subprocess.run([GNU_TIME, "-f", "%M", *cmd], cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, check=True)
        rss.append(int(timed.stderr.strip().splitlines()[-1]))  # KiB
    return statistics.median(times) * 1000, max(rss) / 1024


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--godzilla", default=os.path.join(here, "..", "target", "release", "godzilla"))
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--protocols", type=int, default=1000)
    ap.add_argument("--keep")
    args = ap.parse_args()
    godzilla = os.path.abspath(args.godzilla)
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit("GNU time is needed for peak RSS: apt-get install -y time (bench/run does this)")
    tmp = args.keep or tempfile.mkdtemp(prefix="godzilla-bench-")
    root = os.path.join(tmp, "repo")
    try:
        if not os.path.exists(root):
            build(root, godzilla, args.protocols)
        out = subprocess.run([godzilla, "status", "--json"], cwd=root, check=True, capture_output=True).stdout
        summary = json.loads(out)
        protocols = len(summary["protocols"])
        steps = sum(p["steps"] for p in summary["protocols"])
        events = sum(len(open(os.path.join(root, ".godzilla", "protocols", p["id"], "events.jsonl")).readlines())
                     for p in summary["protocols"])
        print(f"repository: {protocols} protocols, {steps} steps, {events} events")
        stale = os.path.join(tmp, "stale")
        if not os.path.exists(stale):
            shutil.copytree(root, stale, symlinks=True)
            for p in summary["protocols"]:
                os.remove(os.path.join(stale, ".godzilla", "protocols", p["id"], "status.json"))
        for name, cmd, cold in [
                ("--version", [godzilla, "--version"], False),
                ("status", [godzilla, "status"], False),
                ("status --json", [godzilla, "status", "--json"], False),
                ("status (cold: hashes every log)", [godzilla, "status"], True),
                ("status (no views: folds every log)", [godzilla, "status"], True)]:
            ms, mb = measure(cmd, stale if "no views" in name else root, args.runs, cold)
            print(f"godzilla {name:<36} median {ms:7.2f} ms   peak RSS {mb:6.1f} MB   ({args.runs} runs)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
