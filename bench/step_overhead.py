#!/usr/bin/env python3
"""Benchmark: godzilla's own overhead per step, with an instant engine.

Measures (1) `godzilla step run` on 30 steps one after another and (2) `godzilla protocol
run` of a 10-step protocol (execute, a trivial check and an LLM review per step). The
engine is the scripted fake engine answering at once; its own measured run time (recorded by
godzilla in each run record) is subtracted, so what is left is godzilla: load, lock, prompt,
record, commit, note (and for (2) the check, QA and the policy decisions too). Prints medians.

Usage: bench/step_overhead.py [--godzilla PATH] [--fake-engine PATH]
"""
import argparse
import json
import os
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


def bench_step_run(godzilla, fake, env):
    root = tempfile.mkdtemp(prefix="godzilla-bench-step-")
    try:
        n = 30
        repo, script, stepdir = setup(root, godzilla, fake, n, env)
        out = sh([godzilla, "--json", "protocol", "new", "steps", "-d", "bench", "--steps-from", stepdir], repo, env)
        created = json.loads(out.stdout)
        wt, pid = created["worktree"], created["id"]
        write_script(script, [exec_inv(i) for i in range(1, n + 1)])
        overheads = []
        for i in range(1, n + 1):
            start = time.perf_counter()
            out = sh([godzilla, "--json", "step", "run", pid, f"{i:02d}-step"], repo, env)
            wall = (time.perf_counter() - start) * 1000
            result = json.loads(out.stdout)
            overheads.append(wall - result["outcome"]["duration_ms"])
        return statistics.median(overheads)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_protocol_run(godzilla, fake, env):
    root = tempfile.mkdtemp(prefix="godzilla-bench-protocol-")
    try:
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
        engine = sum(engine_ms(wt, pid).values())
        # Reviews are engine time too; their duration is in the QA events.
        log = [json.loads(l) for l in open(os.path.join(wt, ".godzilla", "protocols", pid, "events.jsonl"))]
        engine += sum(e.get("metadata", {}).get("review_ms", 0) for e in log if e["type"] == "qa_passed")
        return (wall - engine) / n, wall / n
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--godzilla", default=os.path.join(here, "..", "target", "release", "godzilla"))
    ap.add_argument("--fake-engine", default=os.path.join(here, "..", "target", "release", "fake-engine"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, **ENV)
    env.pop("GODZILLA_TRUST_CONFIG", None)
    godzilla, fake = os.path.abspath(args.godzilla), os.path.abspath(args.fake_engine)
    steps = [bench_step_run(godzilla, fake, env) for _ in range(args.rounds)]
    where = tempfile.gettempdir()
    print(f"[{where}] step run overhead (30 steps, engine time subtracted): median {statistics.median(steps):6.1f} ms per step")
    protos = [bench_protocol_run(godzilla, fake, env) for _ in range(args.rounds)]
    per_step = statistics.median(p[0] for p in protos)
    wall = statistics.median(p[1] for p in protos)
    print(f"[{where}] protocol run overhead (10 steps, exec + trivial check + review each): median {per_step:6.1f} ms per step ({wall:.1f} ms wall per step before subtracting engine time)")


if __name__ == "__main__":
    main()
