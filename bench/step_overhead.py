#!/usr/bin/env python3
"""Benchmark: godzilla's own overhead per step, with an instant engine.

Measures (1) `godzilla step run` on 30 steps one after another and (2) `godzilla protocol
run` of a 10-step protocol (execute, a trivial check and an LLM review per step). The
engine is the scripted fake engine answering at once. Beside each figure, measured in the
same run on the same machine:
- the process floor: the same engine calls (argv, working directory, prompt size, as the fake
  engine recorded them) and one `true` check per step, spawned one after another by `sh`;
- the `git commit` floor: one `git add -A` + `git commit` of one new file, in the same worktree.
godzilla's overhead per step is its wall time minus the process floor: load, lock, prompt,
record, commit, note (and for (2) the QA and the policy decisions), less the harness floor:
what it costs this script to start a process and collect its output (`true` started the same
way; godzilla's own start-up, its binary and libraries loaded, stays in). The older figure,
wall time minus the engine time godzilla itself recorded, is printed too. Prints medians.

Usage: bench/step_overhead.py [--godzilla PATH] [--fake-engine PATH] [--rounds N] [--quiet S]
"""
import argparse
import json
import os
import shlex
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


def sh(args, cwd, env, check=True):
    return subprocess.run(args, cwd=cwd, env=env, check=check, capture_output=True, text=True)


def setup(root, godzilla, fake, steps, env):
    # The protocol's worktree goes under the data dir: keep it in this run's temporary root
    # (same file system as TMPDIR), so nothing is left in the user's ~/.local/share.
    env["XDG_DATA_HOME"] = os.path.join(root, "data")
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    sh(["git", "init", "-q", "-b", "main"], repo, env)
    sh(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
    sh([godzilla, "-q", "init", "--engine", "fake"], repo, env)
    script = os.path.join(root, "script.json")
    with open(os.path.join(repo, ".godzilla", "config.toml"), "a") as f:
        f.write(f'\n[engines.fake]\nkind = "claude"\ncommand = "{fake}"\nenv = ["GODZILLA_FAKE_ENGINE_SCRIPT={script}"]\n')
    text = open(os.path.join(repo, ".godzilla", "config.toml")).read().replace("[checks]\n", '[checks]\ntrivial = ["true"]\n', 1)
    open(os.path.join(repo, ".godzilla", "config.toml"), "w").write(text)
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-q", "-m", "godzilla"], repo, env)
    sh([godzilla, "-q", "allow"], repo, env)
    stepdir = os.path.join(root, "steps")
    os.makedirs(stepdir)
    for i in range(1, steps + 1):
        open(os.path.join(stepdir, f"{i:02d}-step.md"), "w").write(f"# Step {i}\nWrite file {i}.\n")
    return repo, script, stepdir


def write_script(script, invocations):
    open(script, "w").write(json.dumps(invocations))
    for leftover in (script + ".counter", os.path.join(os.path.dirname(script), "calls.jsonl")):
        if os.path.exists(leftover):
            os.remove(leftover)


def exec_inv(i):
    return [{"write": {"path": f"f{i}.txt", "content": f"{i}\n"}},
            {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 10, "output": 1}}}]


def review_inv():
    return [{"emit_as": {"engine": "claude", "final_message": "Verdict: PASS", "usage": {"input": 10, "output": 1}}}]


def engine_ms(wt, protocol):
    runs = os.path.join(wt, ".godzilla", "protocols", protocol, "runs")
    return {f: json.load(open(os.path.join(runs, f)))["duration_ms"] for f in os.listdir(runs)}


def protocol_engine_ms(wt, protocol):
    """Engine time of a protocol run: its exec runs and its reviews (in the QA events)."""
    log = [json.loads(l) for l in open(os.path.join(wt, ".godzilla", "protocols", protocol, "events.jsonl"))]
    reviews = sum(e.get("metadata", {}).get("review_ms", 0) for e in log if e["type"] == "qa_passed")
    return sum(engine_ms(wt, protocol).values()) + reviews


def process_floor(root, fake, env, checks):
    """Seconds for `sh` to spawn the engine calls the fake engine recorded, plus `checks` x `true`."""
    calls = [json.loads(l) for l in open(os.path.join(root, "calls.jsonl"))]
    script = os.path.join(root, "script.json")
    lines = []
    for n, call in enumerate(calls):
        stdin = os.path.join(root, f"stdin-{n}")
        open(stdin, "w").write("x" * call["stdin_len"])
        argv = " ".join(shlex.quote(a) for a in call["argv"])
        lines.append(f"cd {shlex.quote(call['cwd'])} && {shlex.quote(fake)} {argv} < {stdin} > /dev/null")
    lines += ["true"] * checks
    replay = os.path.join(root, "replay.sh")
    open(replay, "w").write("set -e\n" + "\n".join(lines) + "\n")
    os.remove(script + ".counter")
    start = time.perf_counter()
    subprocess.run(["sh", replay], env=dict(env, GODZILLA_FAKE_ENGINE_SCRIPT=script), check=True,
                   stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def harness_floor(cwd, env, n=30):
    """Median ms for this script to start `true` the way it starts godzilla (fork of Python,
    pipes, wait): the part of a measured wall time that is the harness's, not godzilla's.
    godzilla's own start-up (loading its binary, its libraries) stays in its figure."""
    true = shutil.which("true", path=env.get("PATH")) or "/bin/true"
    times = []
    for _ in range(n):
        start = time.perf_counter()
        sh([true], cwd, env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def git_floor(wt, env, n=10):
    """Median ms of `git add -A` + `git commit` of one new file in the worktree `wt`."""
    times = []
    for i in range(n):
        open(os.path.join(wt, f"floor-{i}.txt"), "w").write(f"{i}\n")
        start = time.perf_counter()
        sh(["git", "add", "-A"], wt, env)
        sh(["git", "commit", "-q", "-m", f"floor {i}"], wt, env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# Temporary roots, removed when every figure is taken. On a file system without a journal
# (ext4 as this project's machines mount it), creating a file skips every inode of its group
# deleted in the last ~35 s (ext4's `recently_deleted`), so removing a finished round's
# thousands of files would make the next rounds pay for the benchmark's own clean-up.
ROOTS = []


def fs_type(path):
    """The type of the file system holding `path` (from /proc/mounts), or None."""
    path, best = os.path.realpath(path), (-1, None)
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _, point, kind = line.split()[:3]
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > best[0]:
                    best = (len(point), kind)
    except OSError:
        pass
    return best[1]


def settle(where, quiet):
    """Waits `quiet` seconds before a round on ext4: each file a round creates skips every
    inode of its group deleted in the last 35 s (see ROOTS), so a round that follows another
    at once pays for the files the rounds before it deleted (godzilla's locks, replaced refs
    and views: thousands over three rounds), which no single protocol run or `step run` does
    in use. After the pause a round pays for its own deletions only."""
    if quiet > 0 and fs_type(where) == "ext4":
        time.sleep(quiet)


def scratch(prefix):
    """A new temporary root, removed at the end (see ROOTS)."""
    root = tempfile.mkdtemp(prefix=prefix)
    ROOTS.append(root)
    return root


def bench_step_run(godzilla, fake, env):
    root = scratch("godzilla-bench-step-")
    n = 30
    repo, script, stepdir = setup(root, godzilla, fake, n, env)
    out = sh([godzilla, "--json", "protocol", "new", "steps", "-d", "bench", "--steps-from", stepdir], repo, env)
    created = json.loads(out.stdout)
    wt, pid = created["worktree"], created["id"]
    write_script(script, [exec_inv(i) for i in range(1, n + 1)])
    overheads, walls = [], []
    for i in range(1, n + 1):
        start = time.perf_counter()
        out = sh([godzilla, "--json", "step", "run", pid, f"{i:02d}-step"], repo, env)
        wall = (time.perf_counter() - start) * 1000
        result = json.loads(out.stdout)
        walls.append(wall)
        overheads.append(wall - result["outcome"]["duration_ms"])
    floor = process_floor(root, fake, env, 0) / n
    harness = harness_floor(repo, env)
    return (statistics.median(walls) - floor - harness, statistics.median(overheads), floor,
            git_floor(wt, env), harness)


def bench_protocol_run(godzilla, fake, env):
    root = scratch("godzilla-bench-protocol-")
    n = 10
    repo, script, stepdir = setup(root, godzilla, fake, n, env)
    out = sh([godzilla, "--json", "protocol", "new", "ten", "-d", "bench", "--steps-from", stepdir], repo, env)
    created = json.loads(out.stdout)
    wt, pid = created["worktree"], created["id"]
    invocations = []
    for i in range(1, n + 1):
        invocations += [exec_inv(i), review_inv()]
    write_script(script, invocations)
    start = time.perf_counter()
    out = sh([godzilla, "--json", "protocol", "run", pid], repo, env)
    wall = (time.perf_counter() - start) * 1000
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed", summary
    engine = protocol_engine_ms(wt, pid)
    floor = process_floor(root, fake, env, n) / n
    harness = harness_floor(repo, env) / n
    return wall / n - floor - harness, (wall - engine) / n, wall / n, floor, git_floor(wt, env), harness


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--godzilla", default=os.path.join(here, "..", "target", "release", "godzilla"))
    ap.add_argument("--fake-engine", default=os.path.join(here, "..", "target", "release", "fake-engine"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=36,
                    help="seconds to wait before each round on ext4 (0: none; see settle())")
    args = ap.parse_args()
    env = dict(os.environ, **ENV)
    env.pop("GODZILLA_TRUST_CONFIG", None)
    godzilla, fake = os.path.abspath(args.godzilla), os.path.abspath(args.fake_engine)
    where = tempfile.gettempdir()
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    try:
        report(args, godzilla, fake, env, where, med)
    finally:
        for root in ROOTS:
            shutil.rmtree(root, ignore_errors=True)


def report(args, godzilla, fake, env, where, med):
    steps = []
    for _ in range(args.rounds):
        settle(where, args.quiet)
        steps.append(bench_step_run(godzilla, fake, env))
    label = where
    if args.quiet > 0 and fs_type(where) == "ext4":
        label = f"{where}, rounds {args.quiet:g} s apart"
    print(f"[{label}] step run (30 steps): godzilla overhead {med(steps, 0):6.1f} ms per step "
          f"(wall minus process and harness floors; {med(steps, 1):.1f} wall minus recorded engine "
          f"time) | process floor {med(steps, 2):.1f} ms | harness floor {med(steps, 4):.1f} ms | "
          f"git add+commit floor {med(steps, 3):.1f} ms")
    protos = []
    for _ in range(args.rounds):
        settle(where, args.quiet)
        protos.append(bench_protocol_run(godzilla, fake, env))
    print(f"[{label}] protocol run (10 steps, exec + trivial check + review each): godzilla overhead "
          f"{med(protos, 0):6.1f} ms per step (wall minus process and harness floors; {med(protos, 1):.1f} "
          f"wall minus recorded engine time; {med(protos, 2):.1f} wall) | process floor "
          f"{med(protos, 3):.1f} ms | harness floor {med(protos, 5):.2f} ms | "
          f"git add+commit floor {med(protos, 4):.1f} ms")


if __name__ == "__main__":
    main()
