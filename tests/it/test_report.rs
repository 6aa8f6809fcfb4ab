//! `godzilla report`: the HTML page checked in headless Chromium (DOM and a screenshot kept
//! as a CI artifact), and the Markdown variant.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
    ("03-gamma.md", "# Gamma\nWrite gamma.txt.\n"),
];

fn exec(file: &str, input: u64, cost: f64) -> serde_json::Value {
    json!([
        {"write": {"path": file, "content": format!("{file} {input}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"),
                     "usage": {"input": input, "output": input / 10}, "cost_usd": cost}}
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    json!([{"emit_as": {"engine": "claude", "final_message": format!("Checked.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}, "cost_usd": 0.001}}])
}

/// A tool from Debian packages, or `None` (after a note) outside CI. Under `CI` a missing tool
/// fails the test: `.ci/run` installs it.
pub(crate) fn required_tool(names: &[&str], package: &str) -> Option<PathBuf> {
    if let Some(path) = names.iter().find_map(|n| which::which(n).ok()) {
        return Some(path);
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "CI is set and `{}` is missing; .ci/run installs the Debian package `{package}`",
            names[0]
        );
    }
    writeln!(
        std::io::stderr(),
        "note: skipping: `{}` is not installed (apt-get install -y {package}); it runs under CI",
        names[0]
    )
    .ok();
    None
}

fn completed_protocol() -> (TestRepo, String) {
    let repo = TestRepo::with_fake_engine("claude");
    // A mechanical check, so verdicts carry check results (protocols take main's config).
    let config = repo.read(".godzilla/config.toml").replace(
        "[checks]",
        "[checks]\nalpha = [\"test\", \"-s\", \"alpha.txt\"]",
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("a check");
    repo.godzilla(&["allow"]).expect(0);
    let (id, _) = repo.new_protocol("three", STEPS);
    repo.script(json!([
        exec("alpha.txt", 1000, 0.011),
        review("FAIL"),
        exec("alpha.txt", 1200, 0.013),
        review("PASS"),
        exec("beta.txt", 3000, 0.031),
        review("PASS"),
        exec("gamma.txt", 500, 0.004),
        review("PASS"),
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
    (repo, id)
}

/// An amount as the human outputs write it.
fn cost_display(usd: &serde_json::Value) -> String {
    godzilla::services::platform::telemetry::prices::Cost::from_usd(usd.as_f64().unwrap()).display()
}

#[test]
fn test_report_markdown_and_data() {
    let (repo, id) = completed_protocol();
    let data = repo.godzilla(&["--json", "report", &id]).expect(0).json();
    let steps = data["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["attempts"].as_array().unwrap().len(), 2);
    let verdicts: Vec<&str> = steps[0]["qa"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["fail", "pass"]);
    // Per-step cost is the sum of its attempts; the total the sum of the steps.
    let micros = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() as i64;
    // Two attempts and two reviews.
    assert_eq!(micros(&steps[0]["cost_usd"]), 26_000);
    let by_step = repo
        .godzilla(&["--json", "cost", &id, "--by", "step"])
        .expect(0)
        .json();
    for (group, step) in by_step["groups"].as_array().unwrap().iter().zip(steps) {
        assert_eq!(
            micros(&group["cost_usd"]),
            micros(&step["cost_usd"]),
            "{group}"
        );
        assert_eq!(group["tokens"], step["tokens"], "{group}");
    }
    let sum: i64 = steps.iter().map(|s| micros(&s["cost_usd"])).sum();
    assert_eq!(micros(&data["cost_usd"]), sum);
    // Reviews count as QA runs, attempts as exec runs.
    let by_phase = repo
        .godzilla(&["--json", "cost", &id, "--by", "phase"])
        .expect(0)
        .json();
    let runs: Vec<(String, u64)> = by_phase["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["runs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, [("exec".to_owned(), 4), ("qa".to_owned(), 4)]);
    assert_eq!(by_phase["total"]["unpriced_runs"], 0);
    // A plan, as planning writes it, goes in the Markdown too.
    let wt = PathBuf::from(data["location"]["path"].as_str().unwrap());
    std::fs::write(
        wt.join(format!(".godzilla/protocols/{id}/plan.md")),
        "# Plan\n\nThree files, one per step.\n",
    )
    .unwrap();
    let md = repo.godzilla(&["report", &id, "--md"]).expect(0).stdout;
    assert!(md.starts_with(&format!("## {id}\n")), "{md}");
    // What a pull request needs, in this order: steps, verdicts with checks, cost, commits,
    // the plan.
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(
        headings,
        [
            "### Steps",
            "### QA verdicts",
            "### Cost",
            "### Commits",
            "### Plan"
        ],
        "{md}"
    );
    assert!(md.contains("| 01-alpha Alpha | completed | 2 |"), "{md}");
    let fail = md.find("- **01-alpha** FAIL").expect(&md);
    let pass = md.find("- **01-alpha** PASS").expect(&md);
    assert!(fail < pass, "{md}");
    assert_eq!(
        md.matches("  - check `alpha`: passed (exit 0)").count(),
        4,
        "{md}"
    );
    let runs = by_phase["total"]["runs"].as_u64().unwrap();
    assert!(
        md.contains(&format!(
            "{} tokens · {} over {runs} runs",
            data["tokens"],
            cost_display(&data["cost_usd"])
        )),
        "{md}"
    );
    assert!(md.contains("Three files, one per step."), "{md}");
    // The library function `pr open` uses gives the same text.
    let ctx = godzilla::context::Context::discover(
        &repo.root,
        std::sync::Arc::new(godzilla::report::Silent),
    );
    // (The test process's environment is not the pinned one; only compare when it could open.)
    if let Ok(ctx) = ctx {
        let body = godzilla::services::report::pr_body(
            &ctx,
            &godzilla::domain::ProtocolId::parse(&id).unwrap(),
        )
        .unwrap();
        assert_eq!(body.lines().next(), md.lines().next());
    }
}

#[test]
fn test_report_html_in_headless_chromium() {
    let Some(chromium) = required_tool(&["chromium", "chromium-browser"], "chromium") else {
        return;
    };
    let (repo, id) = completed_protocol();
    // A forge remote: commits link to their pages there.
    repo.git(&["remote", "add", "origin", "https://github.com/o/r.git"]);
    let page = repo.home().join("report.html");
    repo.godzilla(&["report", &id, "--html", page.to_str().unwrap()])
        .expect(0);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch when viewed.
    for needle in ["<script src", "<link ", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    let data = repo.godzilla(&["--json", "report", &id]).expect(0).json();
    let timeline = data["timeline"].as_array().unwrap().len();
    assert!(timeline >= 8, "{timeline}");

    let chrome = |extra: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(&chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()));
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = chrome(&["--dump-dom".into()]);
    assert_eq!(
        dom.matches("class=\"timeline-row\"").count(),
        timeline,
        "timeline rows"
    );
    assert_eq!(dom.matches("class=\"bar\"").count(), 3, "one bar per step");
    for step in ["01-alpha", "02-beta", "03-gamma"] {
        assert!(dom.contains(&format!("data-step=\"{step}\"")), "{step}");
    }
    assert_eq!(dom.matches("class=\"attempt-row\"").count(), 4);
    let commits: Vec<&str> = data["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["attempts"].as_array().unwrap())
        .filter_map(|a| a["commit"].as_str())
        .collect();
    assert_eq!(commits.len(), 4, "one commit per attempt");
    for sha in commits {
        assert!(
            dom.contains(&format!(
                "<a class=\"commit\" href=\"https://github.com/o/r/commit/{sha}\">"
            )),
            "no link to {sha}"
        );
    }
    assert!(dom.contains("class=\"fail\">fail</b>") && dom.contains("class=\"pass\">pass</b>"));

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("report.png");
    std::fs::remove_file(&shot).ok();
    chrome(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1200,1600".into(),
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
    // Written past the test harness's capture so it shows in the CI log.
    writeln!(
        std::io::stderr(),
        "artifact: report screenshot at {}",
        shot.display()
    )
    .ok();
}
