//! `godzilla discover`: a read-only engine run whose report lands in `.godzilla/discovery.md`;
//! `--apply` turns its Commands section into `[checks]` (keeping the config's comments) and
//! refuses commands that need a shell; no engine means no report and exit 1.

use serde_json::json;

use crate::support::TestRepo;

const REPORT: &str = "## Stack\nRust, built with Cargo (Cargo.toml).\n\n## Commands\n\
    - build: `cargo build --all-targets`\n- test: `cargo test`\n\
    - lint: `cargo clippy -- -D warnings | tee lint.log`\n\n## CI\nNone found.\n\n\
    ## Notes\nLint output is piped to a file.\n";

fn emit(final_message: &str) -> serde_json::Value {
    json!({"emit_as": {"engine": "claude", "final_message": final_message, "usage": {"input": 900, "output": 200}}})
}

#[test]
fn test_discover_writes_discovery_md() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.write("Cargo.toml", "[package]\nname = \"x\"\n");
    repo.commit_all("cargo");
    let config_before = repo.read(".godzilla/config.toml");
    repo.script(json!([[{"expect_stdin_contains": "Cargo.toml"}, emit(REPORT)]]));
    let run = repo.godzilla(&["discover"]).expect(0);
    assert!(
        run.stdout.contains("Wrote .godzilla/discovery.md"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("godzilla discover --apply"),
        "{}",
        run.stdout
    );
    let report = repo.read(".godzilla/discovery.md");
    assert!(report.contains("- test: `cargo test`"), "{report}");
    assert!(
        report.starts_with("<!-- written by `godzilla discover` with fake"),
        "{report}"
    );
    // Without --apply the config is untouched; the run was read-only.
    assert_eq!(repo.read(".godzilla/config.toml"), config_before);
    let calls = repo.calls();
    assert!(
        calls[0]["argv"].to_string().contains("plan"),
        "{}",
        calls[0]["argv"]
    );
    let events = repo.read(".godzilla/events.jsonl");
    assert!(
        events.contains("\"type\":\"discovery_completed\""),
        "{events}"
    );
    assert!(events.contains("\"tokens\":1100"), "{events}");
}

#[test]
fn test_discover_cost_is_recorded_and_counted_with_the_project() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.write("Cargo.toml", "[package]\nname = \"x\"\n");
    repo.commit_all("cargo");
    let mut answer = emit(REPORT);
    answer["emit_as"]["cost_usd"] = json!(0.0456);
    repo.script(json!([[answer]]));
    repo.godzilla(&["discover"]).expect(0);
    let event: serde_json::Value = repo
        .read(".godzilla/events.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "discovery_completed")
        .unwrap();
    let micros = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(micros(&event["metadata"]["cost_usd"]), 45_600, "{event}");
    // `cost` without a protocol counts the project's own runs too.
    let cost = repo
        .godzilla(&["--json", "cost", "--by", "phase"])
        .expect(0)
        .json();
    let group = cost["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "discovery")
        .unwrap_or_else(|| panic!("{cost:#}"));
    assert_eq!(micros(&group["cost_usd"]), 45_600, "{cost:#}");
    assert_eq!(group["tokens"], 1100, "{cost:#}");
    assert_eq!(micros(&cost["total"]["cost_usd"]), 45_600, "{cost:#}");
}

#[test]
fn test_discover_apply_sets_checks_and_keeps_comments() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.script(json!([[emit(REPORT)]]));
    let json = repo
        .godzilla(&["--json", "discover", "--apply"])
        .expect(0)
        .json();
    let applied: Vec<&str> = json["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["build", "test"]);
    assert!(
        json["commands"][2]["problem"]
            .as_str()
            .unwrap()
            .contains("needs a shell"),
        "{json}"
    );
    let config = repo.read(".godzilla/config.toml");
    assert!(
        config.contains("build = [\"cargo\", \"build\", \"--all-targets\"]"),
        "{config}"
    );
    assert!(config.contains("test = [\"cargo\", \"test\"]"), "{config}");
    assert!(
        !config.contains("tee"),
        "a piped command is not applied: {config}"
    );
    // The template's comments survive.
    assert!(
        config.starts_with("# godzilla project configuration."),
        "{config}"
    );
    assert!(config.contains("# Mechanical checks QA runs"), "{config}");
    assert!(
        config.contains("# lint = [\"cargo\", \"clippy\""),
        "{config}"
    );
    // And godzilla still reads it.
    repo.godzilla(&["status"]).expect(0);
}

#[test]
fn test_discover_without_an_engine_exits_1() {
    let repo = TestRepo::initialized();
    let run = repo.godzilla(&["discover", "--apply"]).expect(1);
    assert!(
        run.stderr
            .contains("no engine is configured for the discovery phase"),
        "{}",
        run.stderr
    );
    assert!(!repo.root.join(".godzilla/discovery.md").exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn test_discover_engine_failure_writes_nothing() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.script(json!([[{"emit_as": {"engine": "claude", "error": {"status": 401, "message": "bad key"}}}]]));
    let run = repo.godzilla(&["discover"]).expect(1);
    assert!(
        run.stderr.contains("discovery with fake failed"),
        "{}",
        run.stderr
    );
    assert!(!repo.root.join(".godzilla/discovery.md").exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}
