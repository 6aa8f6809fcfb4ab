#!/usr/bin/env python3
"""Benchmark: event append cost as a log grows, and concurrent notes.

(1) `godzilla clarify ask` appends one event and does nothing else. It is timed with 100 and
with 10,000 events already in the log (appends to the two sizes alternate), for the project
log and for a protocol's log (whose
append also checks the event against the protocol's state and rewrites its status view).
The logs are filled with real event lines that godzilla's fold accepts. An append that reads
the whole log costs more as the log grows; one that does not stays flat.

(2) Eight shell loops of 50 `godzilla notes add` each, all at once, one record per loop and
commit on 50 commits: the wall time and how many of the 400 records were kept.

Usage: bench/append_and_notes.py [--godzilla PATH] [--runs N]
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "NO_COLOR": "1",
}


def sh(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)


def filler(n, start, protocol=None):
    """`n` events without an effect on state (budget warnings), Lamport counters from `start`."""
    lines = []
    for i in range(n):
        e = {"id": f"fill{start + i:08x}", "lamport": start + i, "ts": "2001-02-03T04:05:06Z",
             "type": "budget_warning", "message": "budget warning"}
        if protocol:
            e["protocol"] = protocol
        lines.append(json.dumps(e, separators=(",", ":")) + "\n")
    return "".join(lines)


def make_repo(root, godzilla, env):
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    sh(["git", "init", "-q", "-b", "main"], repo, env)
    sh(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
    sh([godzilla, "-q", "init"], repo, env)
    return repo


def ask(godzilla, cwd, env, scope, key):
    """One `clarify ask`: its wall time and the CPU time its process used, in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    sh([godzilla, "-q", "clarify", "ask", *scope, key, "why?"], cwd, env)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return wall, cpu


def make_logs(godzilla, env, root, events):
    """A repository whose project log and one protocol's log hold `events` events each."""
    os.makedirs(root)
    env = dict(env, XDG_DATA_HOME=os.path.join(root, "data"))
    repo = make_repo(root, godzilla, env)
    sh([godzilla, "-q", "clarify", "ask", "first", "why?"], repo, env)
    path = os.path.join(repo, ".godzilla", "events.jsonl")
    have = sum(1 for _ in open(path))
    with open(path, "a") as f:
        f.write(filler(events - have, 1000))
    # A protocol's log (in its worktree's copy, where commands on it write).
    steps = os.path.join(root, "steps")
    os.makedirs(steps)
    open(os.path.join(steps, "01-a.md"), "w").write("# A\nDo a.\n")
    created = json.loads(sh([godzilla, "--json", "protocol", "new", "p", "-d", "bench",
                             "--steps-from", steps], repo, env).stdout)
    pid, wt = created["id"], created["worktree"]
    path = os.path.join(wt, ".godzilla", "protocols", pid, "events.jsonl")
    have = sum(1 for _ in open(path))
    with open(path, "a") as f:
        f.write(filler(events - have, 1000, pid))
    # The first append after the filler folds the whole log once (the view is stale).
    sh([godzilla, "-q", "clarify", "ask", "--protocol", pid, "first", "why?"], wt, env)
    return {"project": (repo, env, []), "protocol": (wt, env, ["--protocol", pid])}


def bench_append(godzilla, env, runs):
    """Median wall and CPU ms per append, for each log, at 100 and at 10,000 events.

    Both sizes are built first and their appends alternate, so that a drift in the machine's
    speed (which on a shared VM moves single figures by a third within minutes) falls on both
    alike instead of on whichever size ran second.
    """
    root = tempfile.mkdtemp(prefix="godzilla-bench-append-")
    try:
        sizes = {n: make_logs(godzilla, env, os.path.join(root, str(n)), n) for n in (100, 10_000)}
        times = {(log, n): ([], []) for log in ("project", "protocol") for n in sizes}
        for i in range(runs):
            for log in ("project", "protocol"):
                # Which size goes first alternates too (ABBA): the first of a pair runs slower.
                order = list(sizes.items())
                for n, logs in order if i % 2 == 0 else reversed(order):
                    cwd, log_env, scope = logs[log]
                    wall, cpu = ask(godzilla, cwd, log_env, scope, f"k{i}")
                    times[(log, n)][0].append(wall)
                    times[(log, n)][1].append(cpu)
        return {k: (statistics.median(w), statistics.median(c)) for k, (w, c) in times.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_notes(godzilla, env, writers=8, commits=50):
    root = tempfile.mkdtemp(prefix="godzilla-bench-notes-")
    try:
        repo = make_repo(root, godzilla, env)
        for i in range(commits):
            sh(["git", "commit", "-q", "--allow-empty", "-m", f"c{i}"], repo, env)
        shas = sh(["git", "rev-list", "-n", str(commits), "HEAD"], repo, env).stdout.split()
        scripts = []
        for w in range(writers):
            scripts.append("".join(f"\"$GZ\" notes add {c} '{{\"writer\":{w},\"commit\":{i}}}' || exit 1\n"
                                   for i, c in enumerate(shas)))
        start = time.perf_counter()
        procs = [subprocess.Popen(["sh", "-c", s], cwd=repo, env=dict(env, GZ=godzilla),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for s in scripts]
        failed = sum(1 for p in procs if p.wait() != 0)
        wall = time.perf_counter() - start
        kept = 0
        for c in shas:
            out = subprocess.run(["git", "notes", "--ref", "godzilla", "show", c], cwd=repo, env=env,
                                 capture_output=True, text=True)
            kept += sum(1 for l in out.stdout.splitlines() if l.strip())
        return wall, kept, writers * commits, failed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--godzilla", default=os.path.join(here, "..", "target", "release", "godzilla"))
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    env = dict(os.environ, **ENV)
    godzilla = os.path.abspath(args.godzilla)
    where = tempfile.gettempdir()
    medians = bench_append(godzilla, env, args.runs)
    for log in ("project", "protocol"):
        (small, small_cpu), (large, large_cpu) = medians[(log, 100)], medians[(log, 10_000)]
        print(f"[{where}] event append, {log + ' log':12} (`clarify ask`): median {small:6.2f} ms at 100 events, "
              f"{large:6.2f} ms at 10,000 ({(large / small - 1) * 100:+.0f}%); "
              f"CPU {small_cpu:5.2f} / {large_cpu:5.2f} ms ({(large_cpu / small_cpu - 1) * 100:+.0f}%)")
    wall, kept, total, failed = bench_notes(godzilla, env)
    print(f"[{where}] notes 8 x 50 concurrent `notes add`: {wall:5.2f} s, {kept}/{total} kept"
          + (f", {failed} writer loops FAILED" if failed else ""))


if __name__ == "__main__":
    main()
