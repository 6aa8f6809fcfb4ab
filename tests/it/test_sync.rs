//! `godzilla sync` and `godzilla ci claim|release`: runners on several clones coordinating
//! through one bare remote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, TestRepo, godzilla_bin, hermetic};

/// A bare remote, a seed repository that pushed `main` to it, and clones of it.
pub(crate) struct Cluster {
    /// The seed (initialized, with `origin` pointing at the bare remote).
    pub(crate) seed: TestRepo,
    /// The bare remote.
    pub(crate) origin: PathBuf,
}

impl Cluster {
    pub(crate) fn new() -> Self {
        let seed = TestRepo::initialized();
        let origin = seed.home().join("origin.git");
        seed.git(&[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ]);
        seed.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
        seed.git(&["push", "-q", "origin", "main"]);
        Self { seed, origin }
    }

    /// A fresh clone named `name`, set up the way `godzilla init` sets a repository up.
    pub(crate) fn clone(&self, name: &str) -> PathBuf {
        let dir = self.seed.home().join(name);
        self.seed.git(&[
            "clone",
            "-q",
            self.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ]);
        self.seed.godzilla_in(&dir, &["init"], &[]).expect(0);
        dir
    }

    pub(crate) fn gz(&self, dir: &Path, args: &[&str]) -> Run {
        self.seed.godzilla_in(dir, args, &[])
    }

    pub(crate) fn gz_at(&self, dir: &Path, now: &str, args: &[&str]) -> Run {
        self.seed.godzilla_in(dir, args, &[("GODZILLA_NOW", now)])
    }

    pub(crate) fn git(&self, dir: &Path, args: &[&str]) -> String {
        self.seed.git_in(dir, args)
    }
}

fn shell(cluster: &Cluster, dir: &Path, script: String) -> std::process::Child {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(dir);
    hermetic(&mut cmd, cluster.seed.home());
    cmd.env("GZ", godzilla_bin());
    cmd.spawn().expect("spawn sh")
}

#[test]
fn test_ci_claim_eight_clones_race_one_winner_per_step() {
    const CLONES: usize = 8;
    const STEPS: usize = 50;
    let cluster = Cluster::new();
    let clones: Vec<PathBuf> = (0..CLONES)
        .map(|i| cluster.clone(&format!("c{i}")))
        .collect();
    let results = cluster.seed.home().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let children: Vec<_> = clones
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let out = results.join(format!("c{i}"));
            let mut script = String::new();
            for s in 0..STEPS {
                script.push_str(&format!(
                    "\"$GZ\" ci claim 0001-race/{s:02}-step --holder runner-{i} >/dev/null 2>>'{out}.err'; echo \"{s} $?\" >> '{out}'\n",
                    out = out.display()
                ));
            }
            shell(&cluster, dir, script)
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut winners: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..CLONES {
        let text = std::fs::read_to_string(results.join(format!("c{i}"))).unwrap();
        for line in text.lines() {
            let (s, code) = line.split_once(' ').unwrap();
            let s: usize = s.parse().unwrap();
            match code {
                "0" => winners.entry(s).or_default().push(i),
                "3" => {}
                other => panic!(
                    "clone {i} step {s}: exit {other}\n{}",
                    std::fs::read_to_string(results.join(format!("c{i}.err"))).unwrap_or_default()
                ),
            }
        }
    }
    for s in 0..STEPS {
        let w = winners.get(&s).cloned().unwrap_or_default();
        assert_eq!(w.len(), 1, "step {s}: winners {w:?}");
        // The remote agrees: its lease ref names the winner's claim.
        let refname = format!("refs/godzilla/leases/0001-race/steps/{s:02}-step");
        let oid = cluster.git(&cluster.origin, &["rev-parse", &refname]);
        let msg = cluster.git(&cluster.origin, &["cat-file", "commit", oid.trim()]);
        assert!(
            msg.contains(&format!("\"holder\":\"runner-{}\"", w[0])),
            "{msg}"
        );
    }
}

#[test]
fn test_sync_runner_past_its_lease_publishes_nothing() {
    let cluster = Cluster::new();
    let a = cluster.clone("a");
    let b = cluster.clone("b");
    let t0 = "2030-01-01T00:00:00Z";
    let won = cluster
        .gz_at(
            &a,
            t0,
            &[
                "--json",
                "ci",
                "claim",
                "0001-x/01-a",
                "--ttl",
                "60",
                "--holder",
                "A",
            ],
        )
        .expect(0);
    assert_eq!(won.json()["holder"], "A");
    // Held: B is refused while it lasts.
    let held = cluster
        .gz_at(
            &b,
            "2030-01-01T00:00:30Z",
            &["ci", "claim", "0001-x/01-a", "--holder", "B"],
        )
        .expect(3);
    assert!(held.stderr.contains("leased by A"), "{}", held.stderr);

    // A works on the protocol branch.
    cluster.git(&a, &["checkout", "-q", "-b", "godzilla/0001-x"]);
    std::fs::write(a.join("work.txt"), "A's work\n").unwrap();
    cluster.git(&a, &["add", "work.txt"]);
    cluster.git(&a, &["commit", "-q", "-m", "A's work"]);
    cluster
        .gz(&a, &["notes", "add", "HEAD", r#"{"by":"A"}"#])
        .expect(0);

    // Past its lease (stopped, then woken), A publishes nothing, even with nobody else there.
    let late = cluster
        .gz_at(
            &a,
            "2030-01-01T00:01:01Z",
            &["sync", "--lease", "0001-x/01-a"],
        )
        .expect(3);
    assert!(
        late.stderr.contains("nothing was published"),
        "{}",
        late.stderr
    );
    assert!(late.stderr.contains("expired"), "{}", late.stderr);
    let remote_refs = cluster.git(&cluster.origin, &["for-each-ref", "--format=%(refname)"]);
    assert!(!remote_refs.contains("godzilla/0001-x"), "{remote_refs}");
    assert!(
        !remote_refs.contains("refs/notes/godzilla"),
        "{remote_refs}"
    );

    // B takes the expired lease over; A, even with its clock back inside the TTL, has lost it.
    let took = cluster
        .gz_at(
            &b,
            "2030-01-01T00:01:05Z",
            &["--json", "ci", "claim", "0001-x/01-a", "--holder", "B"],
        )
        .expect(0);
    assert_eq!(took.json()["took_over_from"], "A");
    let lost = cluster
        .gz_at(
            &a,
            "2030-01-01T00:00:40Z",
            &["sync", "--lease", "0001-x/01-a"],
        )
        .expect(3);
    assert!(lost.stderr.contains("B holds it now"), "{}", lost.stderr);
    let remote_refs = cluster.git(&cluster.origin, &["for-each-ref", "--format=%(refname)"]);
    assert!(!remote_refs.contains("godzilla/0001-x"), "{remote_refs}");

    // B, holding it, publishes; then releases it, and the remote ref is gone.
    cluster.git(&b, &["checkout", "-q", "-b", "godzilla/0001-x"]);
    std::fs::write(b.join("work.txt"), "B's work\n").unwrap();
    cluster.git(&b, &["add", "work.txt"]);
    cluster.git(&b, &["commit", "-q", "-m", "B's work"]);
    cluster
        .gz_at(
            &b,
            "2030-01-01T00:01:10Z",
            &["sync", "--lease", "0001-x/01-a"],
        )
        .expect(0);
    let pushed = cluster.git(
        &cluster.origin,
        &["log", "-1", "--format=%s", "godzilla/0001-x"],
    );
    assert_eq!(pushed.trim(), "B's work");
    cluster.gz(&b, &["ci", "release", "0001-x/01-a"]).expect(0);
    let remote_refs = cluster.git(&cluster.origin, &["for-each-ref", "--format=%(refname)"]);
    assert!(
        !remote_refs.contains("leases/0001-x/steps/01-a"),
        "{remote_refs}"
    );
}

fn note_records(cluster: &Cluster, dir: &Path, commits: &[String]) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut count = 0;
    for c in commits {
        let run = cluster.gz(dir, &["notes", "show", c]).expect(0);
        for line in run.stdout.lines() {
            count += 1;
            all.insert(line.to_owned());
        }
    }
    assert_eq!(count, all.len(), "duplicated records");
    all
}

#[test]
fn test_sync_notes_from_two_clones_merge_without_loss() {
    const PER_CLONE: usize = 200;
    const COMMITS: usize = 10;
    let cluster = Cluster::new();
    for i in 0..COMMITS {
        cluster
            .seed
            .git(&["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
    }
    cluster.seed.git(&["push", "-q", "origin", "main"]);
    let commits: Vec<String> = cluster
        .seed
        .git(&["rev-list", "-n", &COMMITS.to_string(), "HEAD"])
        .lines()
        .map(str::to_owned)
        .collect();
    let a = cluster.clone("a");
    let b = cluster.clone("b");
    // Both clones append at once, each syncing now and then, so pushes race and get rejected.
    let children: Vec<_> = [("a", &a), ("b", &b)]
        .into_iter()
        .map(|(name, dir)| {
            let mut script = String::new();
            for i in 0..PER_CLONE {
                let c = &commits[i % COMMITS];
                script.push_str(&format!(
                    "\"$GZ\" -q notes add {c} '{{\"clone\":\"{name}\",\"i\":{i}}}' || exit 1\n"
                ));
                if i % 50 == 49 {
                    script.push_str("\"$GZ\" -q sync || exit 2\n");
                }
            }
            shell(&cluster, dir, script)
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    cluster.gz(&a, &["sync"]).expect(0);
    cluster.gz(&b, &["sync"]).expect(0);
    cluster.gz(&a, &["sync"]).expect(0);
    let on_a = note_records(&cluster, &a, &commits);
    let on_b = note_records(&cluster, &b, &commits);
    assert_eq!(on_a.len(), 2 * PER_CLONE);
    assert_eq!(on_a, on_b);
}

fn exec(file: &str) -> serde_json::Value {
    serde_json::json!([
        {"write": {"path": file, "content": format!("{file}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    serde_json::json!([{"emit_as": {"engine": "claude", "final_message": format!("Looks right.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}}}])
}

/// One CI job of the generated workflow: its id, environment and the script it runs.
struct Job {
    id: String,
    env: Vec<(String, String)>,
    script: String,
}

fn workflow_jobs(path: &Path) -> Vec<Job> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let top: Vec<(String, String)> = doc["env"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .filter(|(_, v)| !v.contains("${{"))
        .collect();
    doc["jobs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, job)| {
            let step = job["steps"].as_array().unwrap().last().unwrap();
            let mut env = top.clone();
            if let Some(e) = step["env"].as_object() {
                env.extend(
                    e.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
                );
            }
            Job {
                id: id.clone(),
                env,
                script: step["run"].as_str().unwrap().to_owned(),
            }
        })
        .collect()
}

#[test]
fn test_ci_two_runners_finish_one_protocol_with_the_workflow_sequence() {
    let seed = TestRepo::new();
    seed.godzilla(&["init", "--engine", "fake"]).expect(0);
    let mut config = seed.read(".godzilla/config.toml");
    // Each runner names its own fake-engine script through the environment.
    config.push_str(&format!(
        "\n[engines.fake]\nkind = \"claude\"\ncommand = \"{}\"\nenv = [\"GODZILLA_FAKE_ENGINE_SCRIPT\"]\n",
        crate::support::fake_engine_bin().display()
    ));
    seed.write(".godzilla/config.toml", &config);
    seed.commit_all("godzilla init");
    let origin = seed.home().join("origin.git");
    seed.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        origin.to_str().unwrap(),
    ]);
    seed.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    seed.git(&["push", "-q", "origin", "main"]);
    let (id, _) = seed.new_protocol(
        "two",
        &[
            ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
            ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
        ],
    );
    seed.godzilla(&["sync"]).expect(0);
    let generated = seed
        .godzilla(&["--json", "ci", "generate", "github", &id])
        .expect(0)
        .json();
    let jobs = workflow_jobs(&seed.root.join(generated["path"].as_str().unwrap()));
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["step-01-alpha", "step-02-beta", "finish"]
    );
    // `godzilla` on PATH, as the workflow's install step leaves it.
    let bin = seed.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(godzilla_bin(), bin.join("godzilla")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let runners: Vec<PathBuf> = ["runner-a", "runner-b"]
        .iter()
        .map(|name| {
            let dir = seed.home().join(name);
            seed.git(&[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                dir.to_str().unwrap(),
            ]);
            dir
        })
        .collect();
    let start = |runner: usize, job: &Job, script: serde_json::Value| {
        let engine_script = seed.home().join(format!("engine-{runner}-{}.json", job.id));
        std::fs::write(&engine_script, serde_json::to_vec(&script).unwrap()).unwrap();
        // No forge here: the PR step is the one line not run (tests/it/test_forge.rs covers it).
        let script_text: String = job
            .script
            .lines()
            .filter(|l| !l.starts_with("godzilla pr open"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script_text).current_dir(&runners[runner]);
        hermetic(&mut cmd, seed.home());
        cmd.env("PATH", &path)
            .env("GODZILLA_FAKE_ENGINE_SCRIPT", &engine_script)
            .envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let finish = |child: std::process::Child, what: &str| {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The two step jobs at once, one per runner: both publish; the second push is rejected,
    // fetched, merged (events by union, views rebuilt) and pushed again.
    let a = start(
        0,
        &jobs[0],
        serde_json::json!([exec("alpha.txt"), review("PASS")]),
    );
    let b = start(
        1,
        &jobs[1],
        serde_json::json!([exec("beta.txt"), review("PASS")]),
    );
    finish(a, "runner A, step 01");
    finish(b, "runner B, step 02");
    // Both runners race for the finishing job: one completes the protocol, the other stands by.
    let a = start(0, &jobs[2], serde_json::json!([]));
    let b = start(1, &jobs[2], serde_json::json!([]));
    let out_a = finish(a, "runner A, finish");
    let out_b = finish(b, "runner B, finish");
    let stood_by = [&out_a, &out_b]
        .iter()
        .filter(|o| o.contains("claimed by another runner"))
        .count();
    assert!(stood_by <= 1, "{out_a}\n{out_b}");

    // A fresh clone sees the protocol completed, each step run once, both files present.
    let check = seed.home().join("check");
    seed.git(&[
        "clone",
        "-q",
        origin.to_str().unwrap(),
        check.to_str().unwrap(),
    ]);
    seed.godzilla_in(&check, &["sync", "--no-push"], &[])
        .expect(0);
    let status = seed
        .godzilla_in(&check, &["--json", "status", &id], &[])
        .expect(0)
        .json();
    assert_eq!(status["protocols"][0]["status"], "completed", "{status}");
    let branch = format!("origin/godzilla/{id}");
    let log = seed.git_in(
        &check,
        &[
            "show",
            &format!("{branch}:.godzilla/protocols/{id}/events.jsonl"),
        ],
    );
    assert_eq!(log.matches("\"type\":\"step_started\"").count(), 2, "{log}");
    assert_eq!(log.matches("\"type\":\"qa_passed\"").count(), 2, "{log}");
    for f in ["alpha.txt", "beta.txt"] {
        seed.git_in(&check, &["cat-file", "-e", &format!("{branch}:{f}")]);
    }
    // Both runners, synced, fold the same answer.
    for r in &runners {
        seed.godzilla_in(r, &["sync"], &[]).expect(0);
        let s = seed
            .godzilla_in(r, &["--json", "status", &id], &[])
            .expect(0)
            .json();
        assert_eq!(s["protocols"][0]["status"], "completed", "{s}");
    }
    // The notes of both runners reached the remote.
    let notes = seed.git_in(
        &check,
        &[
            "log",
            "--notes=remotes/origin/godzilla",
            "--format=%N",
            &branch,
        ],
    );
    assert_eq!(notes.matches("\"kind\":\"exec\"").count(), 2, "{notes}");
}

/// A seed with the fake engine (script named per process), a bare remote, and a protocol
/// pushed to it.
fn fake_engine_cluster(steps: &[(&str, &str)]) -> (TestRepo, PathBuf, String) {
    let seed = TestRepo::new();
    seed.godzilla(&["init", "--engine", "fake"]).expect(0);
    let mut config = seed.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.fake]\nkind = \"claude\"\ncommand = \"{}\"\nenv = [\"GODZILLA_FAKE_ENGINE_SCRIPT\"]\n",
        crate::support::fake_engine_bin().display()
    ));
    seed.write(".godzilla/config.toml", &config);
    seed.commit_all("godzilla init");
    let origin = seed.home().join("origin.git");
    seed.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        origin.to_str().unwrap(),
    ]);
    seed.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    seed.git(&["push", "-q", "origin", "main"]);
    let (id, _) = seed.new_protocol("div", steps);
    seed.godzilla(&["sync"]).expect(0);
    (seed, origin, id)
}

#[test]
fn test_status_reads_remote_branches_and_diverged_logs_fold_to_one_answer() {
    let (seed, origin, id) = fake_engine_cluster(&[
        ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
        ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
    ]);
    let branch = format!("godzilla/{id}");
    let clone = |name: &str| {
        let dir = seed.home().join(name);
        seed.git(&[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ]);
        dir
    };
    // A fresh clone sees the protocol on the remote-tracking branch, before any sync.
    let fresh = clone("fresh");
    let st = seed
        .godzilla_in(&fresh, &["--json", "status"], &[])
        .expect(0)
        .json();
    assert_eq!(st["protocols"][0]["id"], id.as_str());
    assert_eq!(
        st["protocols"][0]["location"]["name"],
        format!("origin/{branch}")
    );
    assert_eq!(st["protocols"][0]["status"], "planned");
    let shown = seed
        .godzilla_in(&fresh, &["--json", "protocol", "show", &id], &[])
        .expect(0)
        .json();
    assert_eq!(shown["location"]["name"], format!("origin/{branch}"));
    assert_eq!(shown["steps"][1]["title"], "Beta");
    assert_eq!(shown["header"]["branch"], branch.as_str());

    // Two machines each run a different step on the same branch without syncing in between.
    let a = clone("a");
    let b = clone("b");
    let run_step = |dir: &Path, step: &str, file: &str| {
        seed.git_in(dir, &["checkout", "-q", &branch]);
        let script = dir.with_extension("engine.json");
        std::fs::write(
            &script,
            serde_json::to_vec(&serde_json::json!([exec(file)])).unwrap(),
        )
        .unwrap();
        seed.godzilla_in(
            dir,
            &["--trust-config", "step", "run", &id, step],
            &[("GODZILLA_FAKE_ENGINE_SCRIPT", script.to_str().unwrap())],
        )
        .expect(0);
    };
    run_step(&a, "01-alpha", "alpha.txt");
    run_step(&b, "02-beta", "beta.txt");
    seed.godzilla_in(&a, &["sync"], &[]).expect(0);
    // B's local branch and the remote now differ, and status says so.
    seed.git_in(&b, &["fetch", "-q", "origin"]);
    let st = seed.godzilla_in(&b, &["status"], &[]).expect(0);
    assert!(st.stderr.contains("differ"), "{}", st.stderr);
    let shown = seed
        .godzilla_in(&b, &["protocol", "show", &id], &[])
        .expect(0);
    assert!(shown.stderr.contains("differ"), "{}", shown.stderr);
    // B's push is rejected, so it fetches, merges (union of events, rebuilt view) and pushes.
    let synced = seed
        .godzilla_in(&b, &["--json", "sync"], &[])
        .expect(0)
        .json();
    assert_eq!(synced["branches"][&branch], "pushed", "{synced}");
    let merges = seed.git(&[
        "--git-dir",
        origin.to_str().unwrap(),
        "rev-list",
        "--merges",
        &branch,
    ]);
    assert_eq!(merges.lines().count(), 1, "one merge commit on the remote");
    seed.godzilla_in(&a, &["sync"], &[]).expect(0);
    let fold = |dir: &Path| {
        let s = seed
            .godzilla_in(dir, &["--json", "status", &id], &[])
            .expect(0)
            .json();
        assert!(
            s["protocols"][0]["warnings"].is_null(),
            "{}",
            s["protocols"][0]["warnings"]
        );
        s["protocols"][0]["step_counts"].clone()
    };
    assert_eq!(fold(&a), serde_json::json!({"needs_qa": 2}));
    assert_eq!(fold(&a), fold(&b));
    seed.godzilla_in(&a, &["fsck"], &[]).expect(0);
    seed.godzilla_in(&b, &["fsck"], &[]).expect(0);
}

#[test]
fn test_sync_retries_a_rejected_push_and_gives_up_in_bounds() {
    let cluster = Cluster::new();
    let a = cluster.clone("a");
    cluster
        .gz(&a, &["notes", "add", "HEAD", r#"{"by":"a"}"#])
        .expect(0);
    // The remote refuses the first push it receives (a busy server, a racing runner).
    let hook = cluster.origin.join("hooks/pre-receive");
    let flag = cluster.origin.join("rejected-once");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nif [ ! -f '{0}' ]; then touch '{0}'; echo 'busy, try again' >&2; exit 1; fi\n",
            flag.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
    let run = cluster.gz(&a, &["--json", "sync"]).expect(0).json();
    assert_eq!(run["attempts"], 2, "{run}");
    assert_eq!(run["notes_pushed"], true);
    let remote_notes = cluster.git(&cluster.origin, &["notes", "--ref=godzilla", "list"]);
    assert_eq!(remote_notes.lines().count(), 1);
    // A remote that always refuses: bounded attempts, then a clear error.
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'closed for maintenance' >&2\nexit 1\n",
    )
    .unwrap();
    cluster
        .gz(&a, &["notes", "add", "HEAD", r#"{"by":"a","n":2}"#])
        .expect(0);
    let run = cluster.gz(&a, &["sync", "--attempts", "3"]).expect(1);
    assert!(run.stderr.contains("after 3 attempts"), "{}", run.stderr);
}
