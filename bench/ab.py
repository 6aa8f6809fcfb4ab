#!/usr/bin/env python3
"""Benchmark: two godzilla builds side by side, per-step overhead alternated.

On a shared VM the speed of the machine moves by a third within an hour, and whichever build
runs second in a pair comes out slower: figures from separate runs of `step_overhead.py` do
not compare. Here (1) `step run`: each build runs the same steps in its own repository, the
order of the two swapped at every step; (2) `protocol run` of 10 steps (exec, a trivial check
and a review per step): whole runs alternated, B first in odd rounds. Both print, per build,
the median and mean of wall time minus the engines' recorded time, per step, and of the wall time
itself: a change that moves work out of (or into) the engine's timed window moves the first
figure but not the second, as both builds run the same engine calls.

Usage: bench/ab.py --before PATH --after PATH [--steps 40] [--runs 8]
       (TMPDIR=/dev/shm for memory; wait ~40 s after large deletions on ext4 without a journal)
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import step_overhead as so


def step_runs(builds, fake, n):
    """Per build, the per-step overheads of `step run` on `n` steps, alternated per step."""
    base = tempfile.mkdtemp(prefix="godzilla-ab-step-")
    try:
        setups = {}
        for tag, g in builds.items():
            env = dict(os.environ, **so.ENV)
            env.pop("GODZILLA_TRUST_CONFIG", None)
            repo, script, stepdir = so.setup(os.path.join(base, tag), g, fake, n, env)
            out = so.sh([g, "--json", "protocol", "new", "steps", "-d", "ab", "--steps-from", stepdir], repo, env)
            so.write_script(script, [so.exec_inv(i) for i in range(1, n + 1)])
            setups[tag] = (g, repo, json.loads(out.stdout)["id"], env)
        res = {tag: [] for tag in builds}
        tags = list(builds)
        for i in range(1, n + 1):
            for tag in (tags if i % 2 else tags[::-1]):
                g, repo, pid, env = setups[tag]
                start = time.perf_counter()
                out = so.sh([g, "--json", "step", "run", pid, f"{i:02d}-step"], repo, env)
                wall = (time.perf_counter() - start) * 1000
                res[tag].append((wall - json.loads(out.stdout)["outcome"]["duration_ms"], wall))
        return res
    finally:
        shutil.rmtree(base, ignore_errors=True)


def protocol_runs(builds, fake, runs, n=10):
    """Per build, the per-step overhead of each of `runs` 10-step protocol runs, alternated."""
    res = {tag: [] for tag in builds}
    tags = list(builds)
    for r in range(runs):
        for tag in (tags[::-1] if r % 2 else tags):
            g = builds[tag]
            base = tempfile.mkdtemp(prefix="godzilla-ab-protocol-")
            try:
                env = dict(os.environ, **so.ENV)
                env.pop("GODZILLA_TRUST_CONFIG", None)
                repo, script, stepdir = so.setup(base, g, fake, n, env)
                out = so.sh([g, "--json", "protocol", "new", "ten", "-d", "ab", "--steps-from", stepdir], repo, env)
                created = json.loads(out.stdout)
                invocations = []
                for i in range(1, n + 1):
                    invocations += [so.exec_inv(i), so.review_inv()]
                so.write_script(script, invocations)
                start = time.perf_counter()
                so.sh([g, "--json", "protocol", "run", created["id"]], repo, env)
                wall = (time.perf_counter() - start) * 1000
                engine = so.protocol_engine_ms(created["worktree"], created["id"])
                res[tag].append(((wall - engine) / n, wall / n))
            finally:
                shutil.rmtree(base, ignore_errors=True)
    return res


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--fake-engine", default=os.path.join(here, "..", "target", "release", "fake-engine"))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    builds = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    fake = os.path.abspath(args.fake_engine)
    where = tempfile.gettempdir()
    for name, res in (("step run", step_runs(builds, fake, args.steps)),
                      ("protocol run", protocol_runs(builds, fake, args.runs))):
        for tag, pairs in res.items():
            v, wall = [p[0] for p in pairs], [p[1] for p in pairs]
            print(f"[{where}] {name:12s} {tag:6s}: median {statistics.median(v):5.1f} ms, "
                  f"mean {statistics.mean(v):5.1f} ms per step (wall minus engine time, {len(v)} samples); "
                  f"wall median {statistics.median(wall):5.1f} ms, mean {statistics.mean(wall):5.1f}")


if __name__ == "__main__":
    main()
