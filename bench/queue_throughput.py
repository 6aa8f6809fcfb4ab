#!/usr/bin/env python3
"""Benchmark: the local work queue with no-op jobs.

Enqueues WORKERS x JOBS no-op jobs (`godzilla queue add --noop`), then starts WORKERS
`godzilla worker --once` processes at once and waits for them to drain the queue and exit.
A no-op job runs inside the worker, so what is measured is the queue itself: claim (lock,
holder record, rename), completion record (written once, flushed), cleanup.

Prints: jobs per second (first claim to last completion, from the completion records),
the queue's own CPU cost per job (user + system time of the workers / jobs), p50/p99
claim-to-start, and the temp, claim or lock files left after the workers exited.

Then the latency of job processes: WORKERS idle `godzilla worker` processes, and LATENCY_JOBS
jobs (`queue add -- true`, each a `godzilla queue exec` process) queued one at a time.
Prints p50/p99 of the wake-up (from `queue add` returning to the claim: how soon an idle
worker notices a job) and of claim-to-start (from the claim to the job's process running).

Usage: bench/queue_throughput.py [--godzilla PATH] [--workers 8] [--jobs 500]
                                 [--latency-jobs 200]
"""
import argparse
import json
import os
import resource
import shutil
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


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def latency(godzilla, repo, env, queue, args):
    sh([godzilla, "-q", "queue", "purge", "--all"], repo, env)
    workers = [subprocess.Popen([godzilla, "-q", "worker"], cwd=repo, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(args.workers)]
    try:
        time.sleep(1.0)  # let them start and go idle
        added = {}
        for _ in range(args.latency_jobs):
            job = sh([godzilla, "queue", "add", "--", "true"], repo, env).stdout.strip()
            added[job] = time.time_ns() // 1000
            # The previous job has ended: workers are idle again when the next one comes.
            deadline = time.time() + 30
            while not os.path.exists(os.path.join(queue, "done", job + ".json")):
                if time.time() > deadline:
                    raise SystemExit(f"job {job} did not finish")
                time.sleep(0.002)
        time.sleep(0.05)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait()
    records = [json.load(open(os.path.join(queue, "done", j + ".json"))) for j in added]
    failed = [r["job"]["id"] for r in records if r["status"] != "succeeded"]
    wake = [max(0, r["claimed_ms"] * 1000 - added[r["job"]["id"]]) / 1000 for r in records
            if "claimed_us" not in r]
    wake += [max(0, r["claimed_us"] - added[r["job"]["id"]]) / 1000 for r in records
             if "claimed_us" in r]
    c2s = [r["claim_to_start_us"] / 1000 for r in records]
    print(f"job processes: {args.workers} idle workers, {len(records)} jobs queued one at a time")
    print(f"  wake-up:          p50 {percentile(wake, 50):.3f} ms, p99 {percentile(wake, 99):.3f} ms"
          " (`queue add` returned to claim)")
    print(f"  claim-to-start:   p50 {percentile(c2s, 50):.3f} ms, p99 {percentile(c2s, 99):.3f} ms"
          " (claim to the job's process running)")
    if failed:
        raise SystemExit(f"latency jobs failed: {failed[:5]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--godzilla", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "godzilla"))
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=500, help="jobs per worker")
    ap.add_argument("--latency-jobs", type=int, default=200,
                    help="process jobs queued one at a time to idle workers (0: skip)")
    args = ap.parse_args()
    godzilla = os.path.abspath(args.godzilla)
    env = dict(os.environ, **ENV)
    total = args.workers * args.jobs
    root = tempfile.mkdtemp(prefix="gz-bench-queue-")
    try:
        repo = os.path.join(root, "repo")
        os.makedirs(repo)
        sh(["git", "init", "-q", "-b", "main"], repo, env)
        sh(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
        t = time.perf_counter()
        sh([godzilla, "-q", "queue", "add", "--noop", "--count", str(total)], repo, env)
        enqueue_s = time.perf_counter() - t

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        workers = [subprocess.Popen([godzilla, "-q", "worker", "--once"], cwd=repo, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for _ in range(args.workers)]
        for w in workers:
            _, err = w.communicate()
            if w.returncode != 0:
                raise SystemExit(f"worker failed ({w.returncode}): {err.decode()}")
        wall_s = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        queue = os.path.join(repo, ".git", "godzilla", "queue")
        done = os.listdir(os.path.join(queue, "done"))
        records = [json.load(open(os.path.join(queue, "done", n))) for n in done]
        ok = sum(1 for r in records if r["status"] == "succeeded")
        first = min(r["claimed_ms"] for r in records)
        last = max(r["finished_ms"] for r in records)
        span_s = max(last - first, 1) / 1000
        c2s = [r["claim_to_start_us"] / 1000 for r in records]
        leftovers = []
        for d in ("tmp", "new", "cur", "claims", "cancel", "workers", "spare"):
            if os.path.isdir(os.path.join(queue, d)):
                leftovers += [os.path.join(d, n) for n in os.listdir(os.path.join(queue, d))]
        for dirpath, _, files in os.walk(queue):
            leftovers += [os.path.join(dirpath, f) for f in files if f.endswith(".tmp")]

        where = os.path.dirname(root)
        print(f"queue ({where}): {args.workers} workers x {args.jobs} no-op jobs, {ok}/{total} succeeded")
        print(f"  enqueue:          {total / enqueue_s:8.0f} jobs/s (one process, each job flushed)")
        print(f"  throughput:       {total / span_s:8.0f} jobs/s (first claim to last completion; "
              f"{total / wall_s:.0f} jobs/s including worker start-up)")
        print(f"  queue overhead:   {cpu_s / total * 1000:8.3f} ms CPU per job ({cpu_s:.2f} s for {total})")
        print(f"  claim-to-start:   p50 {percentile(c2s, 50):.3f} ms, p99 {percentile(c2s, 99):.3f} ms")
        print(f"  left after exit:  {len(leftovers)} temp/claim/lock files {leftovers[:5]}")
        if ok != total or leftovers:
            raise SystemExit("queue benchmark: jobs missing or files left behind")
        if args.latency_jobs > 0:
            latency(godzilla, repo, env, queue, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
