//! CLI contract: help, version, generated completions and man pages are fresh, no test file
//! is forgotten.

use predicates::str::starts_with;

use crate::support::TestRepo;

#[test]
fn test_cli_version_and_help() {
    let repo = TestRepo::new();
    let run = repo.godzilla(&["--version"]).expect(0);
    assert_eq!(
        run.stdout,
        format!("godzilla {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = repo.godzilla(&["--help"]).expect(0);
    for cmd in ["init", "status", "fsck", "protocol", "completions", "man"] {
        assert!(
            help.stdout.contains(&format!("  {cmd} ")),
            "missing {cmd} in\n{}",
            help.stdout
        );
    }
    assert!(
        help.stdout.contains("Exit codes: 0 ok, 1 failed, 2 usage"),
        "{}",
        help.stdout
    );
    repo.godzilla(&["frobnicate"])
        .assert()
        .code(2)
        .stderr(starts_with("error: unrecognized subcommand"));
}

#[test]
fn test_cli_committed_completions_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, file) in [
        (clap_complete::Shell::Bash, "godzilla.bash"),
        (clap_complete::Shell::Zsh, "_godzilla"),
        (clap_complete::Shell::Fish, "godzilla.fish"),
        (clap_complete::Shell::Elvish, "godzilla.elv"),
        (clap_complete::Shell::PowerShell, "_godzilla.ps1"),
    ] {
        let fresh = godzilla::cli::commands::completions::completion_script(shell);
        let committed = std::fs::read(root.join("completions").join(file)).unwrap_or_default();
        assert!(
            fresh == committed,
            "completions/{file} is stale: run `bin/regenerate`"
        );
    }
}

#[test]
fn test_cli_committed_man_pages_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = godzilla::cli::commands::completions::man_pages().unwrap();
    let mut names: Vec<String> = Vec::new();
    for (name, bytes) in &pages {
        let committed = std::fs::read(root.join("man").join(name)).unwrap_or_default();
        assert!(
            *bytes == committed,
            "man/{name} is stale: run `bin/regenerate`"
        );
        names.push(name.clone());
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    names.sort();
    assert_eq!(
        on_disk, names,
        "man/ has pages for commands that no longer exist"
    );
}

#[test]
fn test_cli_completions_command_prints_a_script() {
    let repo = TestRepo::empty_dir();
    let run = repo.godzilla(&["completions", "bash"]).expect(0);
    assert!(
        run.stdout.contains("_clap_complete_godzilla()"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
}

#[test]
fn test_no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".rs").filter(|s| s.starts_with("test_")) {
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/it/{name} is not listed in tests/it/main.rs"
            );
        }
    }
}

/// Issue 11.6: `doctor --run` tries the engines the phases use, not every installed one;
/// `--all` tries the rest too.
#[test]
fn test_cli_doctor_run_tries_configured_engines_only() {
    let repo = crate::support::TestRepo::with_fake_engine("claude");
    let marker = repo.home().join("unused-engine-ran");
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.unused]\nkind = \"command\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"touch {}; echo OK\"]\n",
        marker.display()
    ));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("an engine no phase uses");
    repo.godzilla(&["allow"]).expect(0);
    repo.script(serde_json::json!([
        [{"emit_as": {"engine": "claude", "final_message": "OK", "usage": {"input": 1, "output": 1}}}],
        [{"emit_as": {"engine": "claude", "final_message": "OK", "usage": {"input": 1, "output": 1}}}]
    ]));
    let run = repo.godzilla(&["doctor", "--run"]);
    assert_eq!(repo.calls().len(), 1, "{}{}", run.stdout, run.stderr);
    assert!(!marker.exists(), "an engine no phase uses was tried");
    repo.godzilla(&["doctor", "--run", "--all"]);
    assert!(marker.exists(), "--all did not try it");
    assert_eq!(repo.calls().len(), 2);
}

/// Issue 11.5: `doctor` reports an engine a phase uses that has no credentials (no key among
/// the variables it is given, no login file), and stops reporting it once a key is passed.
#[test]
fn test_cli_doctor_reports_missing_credentials() {
    let repo = crate::support::TestRepo::with_fake_engine("codex");
    let run = repo.godzilla(&["--json", "doctor"]);
    let problems = run.json()["problems"].to_string();
    assert!(
        problems.contains("engine `fake`") && problems.contains("no credentials found"),
        "{problems}"
    );
    assert!(problems.contains("OPENAI_API_KEY"), "{problems}");
    let config = repo.read(".godzilla/config.toml").replace(
        "env = [\"GODZILLA_FAKE_ENGINE_SCRIPT=",
        "env = [\"OPENAI_API_KEY\", \"GODZILLA_FAKE_ENGINE_SCRIPT=",
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("pass the key");
    repo.godzilla(&["allow"]).expect(0);
    let run = repo.godzilla_env(
        &["--json", "doctor"],
        &[("OPENAI_API_KEY", "sk-test-0123456789abcdef")],
    );
    let problems = run.json()["problems"].to_string();
    assert!(!problems.contains("no credentials found"), "{problems}");
}

/// Issue 11.5: `doctor` asks each engine a phase uses through its CLI's own login-status
/// command (`codex login status` here) and reports the answer, never the command's output (it
/// shows part of the key); a CLI that says it is not logged in while its login file exists and
/// no key is given is a problem.
#[test]
fn test_cli_doctor_asks_the_cli_whether_it_is_logged_in() {
    let repo = crate::support::TestRepo::with_fake_engine("codex");
    std::fs::create_dir_all(repo.home().join(".codex")).unwrap();
    std::fs::write(repo.home().join(".codex/auth.json"), "{}").unwrap();
    let run = repo.godzilla(&["--json", "doctor"]);
    assert!(!run.stdout.contains("sk-fake"), "{}", run.stdout);
    let report = run.json();
    let login = &report["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fake")
        .unwrap()["login"];
    assert_eq!(login["command"], "codex login status", "{report}");
    assert_eq!(login["logged_in"], true, "{report}");
    assert!(
        !report["problems"].to_string().contains("not logged in"),
        "{report}"
    );
    let text = repo.godzilla(&["doctor"]);
    assert!(
        text.stdout
            .contains("login: logged in (`codex login status`)"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("sk-fake"), "{}", text.stdout);

    let config = repo.read(".godzilla/config.toml").replace(
        "env = [\"GODZILLA_FAKE_ENGINE_SCRIPT=",
        "env = [\"OPENAI_API_KEY\", \"GODZILLA_FAKE_LOGGED_OUT=1\", \"GODZILLA_FAKE_ENGINE_SCRIPT=",
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("the login was revoked");
    repo.godzilla(&["allow"]).expect(0);
    let report = repo.godzilla(&["--json", "doctor"]).json();
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("`codex login status` says it is not logged in"),
        "{report}"
    );
    // An API key given to the engine is a credential that command does not count.
    let report = repo
        .godzilla_env(
            &["--json", "doctor"],
            &[("OPENAI_API_KEY", "sk-test-0123456789abcdef")],
        )
        .json();
    assert!(
        !report["problems"].to_string().contains("not logged in"),
        "{report}"
    );
}
