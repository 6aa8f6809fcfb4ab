//! `godzilla demo`: the main job, offline, with no API keys.

use crate::support::TestRepo;

#[test]
fn test_demo_runs_a_whole_protocol_offline() {
    let scratch = TestRepo::empty_dir();
    let dir = scratch.home().join("demo");
    let run = scratch
        .godzilla(&["--json", "demo", "--dir", dir.to_str().unwrap()])
        .expect(0);
    let json = run.json();
    assert_eq!(json["run"]["stop"]["stop"], "completed");
    assert_eq!(json["run"]["status"], "completed");
    assert_eq!(json["run"]["steps"].as_array().unwrap().len(), 2);
    let log = json["log"].as_str().unwrap();
    assert!(
        log.contains("\"kind\":\"exec\"") && log.contains("\"verdict\":\"pass\""),
        "{log}"
    );
    let worktree = std::path::PathBuf::from(json["worktree"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(worktree.join("README.md"))
            .unwrap()
            .contains("GREETING.md")
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    // The result is ordinary git: fsck agrees and a second demo in the same place is refused.
    scratch.godzilla_in(&worktree, &["fsck"], &[]).expect(0);
    scratch
        .godzilla(&["demo", "--dir", dir.to_str().unwrap()])
        .expect(1);
}

/// The answers the demo's recordings are made from: `tests/fixtures/demo/*.json`, each for the
/// runs whose label matches its `label` (`*` is one path segment or the rest of one).
#[derive(Debug)]
struct DemoAnswers {
    answers: Vec<serde_json::Value>,
}

impl DemoAnswers {
    fn load() -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        let answers = paths
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect();
        Self { answers }
    }
}

fn label_matches(pattern: &str, label: &str) -> bool {
    let (p, l): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), label.split('/').collect());
    p.len() == l.len()
        && p.iter().zip(&l).all(|(p, l)| match p.strip_suffix('*') {
            Some(prefix) => l.starts_with(prefix),
            None => p == l,
        })
}

impl godzilla::engines::Engine for DemoAnswers {
    fn name(&self) -> &str {
        "replay"
    }

    fn kind(&self) -> godzilla::engines::EngineKind {
        godzilla::engines::EngineKind::Replay
    }

    fn program(&self) -> Option<&str> {
        None
    }

    fn execute(
        &self,
        req: &godzilla::engines::EngineRequest,
        _on_line: &mut godzilla::engines::OnLine<'_>,
    ) -> Result<godzilla::engines::EngineRun, godzilla::engines::Error> {
        let a = self
            .answers
            .iter()
            .find(|a| label_matches(a["label"].as_str().unwrap(), &req.label))
            .unwrap_or_else(|| panic!("no demo answer for {}", req.label));
        for f in a["files"].as_array().unwrap() {
            let path = req.workdir.join(f["path"].as_str().unwrap());
            std::fs::write(path, f["content"].as_str().unwrap()).unwrap();
        }
        let mut outcome = godzilla::engines::EngineOutcome::failed(
            godzilla::engines::Classification::Ok,
            String::new(),
        );
        outcome.error = None;
        outcome.final_message = a["final_message"].as_str().map(str::to_owned);
        outcome.usage = serde_json::from_value(a["usage"].clone()).unwrap();
        outcome.cost_usd = a["cost_usd"].as_f64();
        outcome.session_id = a["session_id"].as_str().map(str::to_owned);
        outcome.exit_code = Some(0);
        Ok(godzilla::engines::EngineRun {
            outcome,
            transcript: godzilla::engines::Transcript::default(),
        })
    }

    fn probe(&self) -> godzilla::engines::ProbeReport {
        unreachable!("the demo probes no engine")
    }
}

/// Records the demo from its answers and compares with the shipped recordings; with
/// `SNAPSHOTS=overwrite` (as `bin/regenerate` runs it) it rewrites them instead.
#[test]
fn test_demo_recordings_are_fresh() {
    let scratch = TestRepo::empty_dir();
    let out = scratch.home().join("recordings");
    let outcome = godzilla::services::demo::record_demo(
        &scratch.home().join("demo"),
        std::sync::Arc::new(godzilla::report::Silent),
        std::sync::Arc::new(DemoAnswers::load()),
        &out,
    )
    .unwrap();
    assert_eq!(
        outcome.run.status.map(|s| s.as_str()),
        Some("completed"),
        "{:?}",
        outcome.run
    );
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let all: Vec<serde_json::Value> = names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    assert_eq!(all.len(), 5, "plan, and exec and QA of two steps");
    let text = format!("{}\n", serde_json::to_string_pretty(&all).unwrap());
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/demo/recordings.json");
    if std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite") {
        std::fs::write(&shipped, &text).unwrap();
    } else {
        assert!(
            std::fs::read_to_string(&shipped).unwrap() == text,
            "the demo's recordings are stale (a prompt changed): run bin/regenerate"
        );
    }
}
