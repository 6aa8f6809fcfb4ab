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
