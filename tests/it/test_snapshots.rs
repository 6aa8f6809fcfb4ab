//! Snapshots of human output: the `--help` tree's top, and the everyday commands. Update with
//! `SNAPSHOTS=overwrite cargo test --test it test_snapshot`.

use snapbox::{assert_data_eq, str};

use crate::support::{TestRepo, normalize};

fn transcript(run: &crate::support::Run, repo: &TestRepo) -> String {
    format!(
        "{}------- stderr -------\n{}[exit status: {}]\n",
        normalize(&run.stdout, repo),
        normalize(&run.stderr, repo),
        run.code
            .map_or_else(|| "signal".to_owned(), |c| c.to_string())
    )
}

#[test]
fn test_snapshot_help() {
    let repo = TestRepo::empty_dir();
    let run = repo.godzilla(&["--help"]);
    let top: String = run
        .stdout
        .lines()
        .take(29)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_data_eq!(
        top,
        str![[r#"
Orchestrates AI coding agents on a git repository, keeping all state in the repository.

Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 negative outcome (problems found, QA
FAIL, budget exhausted, blocked), 255 internal error.

Usage: godzilla [OPTIONS] <COMMAND>

Commands:
  init         Set this repository up for godzilla
  status       Show every protocol and its steps
  fsck         Check godzilla's state files against their event logs
  events       Show the event stream, optionally following it live [alias: log]
  cost         Add up tokens and cost per protocol, step, model, engine or phase
  gc           Remove finished protocols' worktrees and local logs that are safe to remove
  report       Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary
  watch        Watch protocols, steps, tokens and transcripts live in a terminal view
  protocol     Create and manage protocols
  step         Run and inspect single steps
  allow        Trust the commands this repository's config defines ([checks], engine profiles)
  doctor       Check git, the configuration and every engine, with hints for what is missing
  import       Create a protocol from a CodeMachine workspace or a Spec Kit feature
  qa           Run QA on a step's last attempt: checks, then an LLM review (policy full)
  clarify      Questions that stop runs until a person answers them
  discover     Discover the repository's stack, commands and CI with an engine (read-only)
  spec         Show a protocol's spec, or rebuild and validate it from the step files
  prompts      Show which prompt template each role uses
  notes        Read and write the records godzilla attaches to commits (refs/notes/godzilla)
  sync         Push and fetch protocol branches and refs/notes/godzilla with a remote
  pr           Open and inspect a protocol's pull/merge request (gh or glab)

"#]]
    );
}

#[test]
fn test_snapshot_status_and_show() {
    let repo = TestRepo::initialized();
    repo.new_protocol(
        "greeting",
        &[
            ("01-write.md", "# Write the greeting\nx\n"),
            ("02-link.md", "# Link it\ny\n"),
        ],
    );
    let status = repo.godzilla(&["status"]);
    assert_data_eq!(
        transcript(&status, &repo),
        str![[r#"
0001-greeting  planned    2 steps: 2 pending  (worktree [ROOT]/home/.local/share/godzilla/worktrees/repo-[..]/0001-greeting)
------- stderr -------
[exit status: 0]

"#]]
    );
    let show = repo.godzilla(&["protocol", "show", "0001-greeting"]);
    assert_data_eq!(
        transcript(&show, &repo),
        str![[r#"
0001-greeting planned
  do greeting
  branch godzilla/0001-greeting from main, created 2001-02-03T04:05:06Z, steps from files
  spec e51bc6c19704, 0 tokens used
steps:
  01-write pending   Write the greeting [work, qa full]
  02-link pending   Link it [work, qa full]
recent events:
  2001-02-03T04:05:06Z protocol_created: created: do greeting
  2001-02-03T04:05:06Z planning_started: step files imported
  2001-02-03T04:05:06Z spec_validated: spec with 2 steps validated
  2001-02-03T04:05:06Z step_added 01-write: step 01-write added
  2001-02-03T04:05:06Z step_added 02-link: step 02-link added
  2001-02-03T04:05:06Z planned: 2 steps from files
------- stderr -------
[exit status: 0]

"#]]
    );
}

#[test]
fn test_snapshot_errors() {
    let repo = TestRepo::initialized();
    let run = repo.godzilla(&["step", "run", "0001-nope", "01-a"]);
    assert_data_eq!(
        transcript(&run, &repo),
        str![[r#"
------- stderr -------
error: protocol 0001-nope not found
hint: `godzilla status` lists the protocols
[exit status: 2]

"#]]
    );
    repo.write(".godzilla/config.toml", "[budget]\nmode = \"sometimes\"\n");
    let run = repo.godzilla(&["status"]);
    assert_data_eq!(
        transcript(&run, &repo),
        str![[r#"
------- stderr -------
error: invalid [ROOT]/repo/.godzilla/config.toml
  caused by: TOML parse error at line 2, column 8
  |
2 | mode = "sometimes"
  |        ^^^^^^^^^^^
unknown variant `sometimes`, expected one of `strict`, `warn`, `off`

hint: fix the file (see `godzilla init --help` for the layout), then run the command again
[exit status: 2]

"#]]
    );
}
