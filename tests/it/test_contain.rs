//! Containment: what an agent or a hostile clone can do to godzilla's state, and control
//! commands that must take effect while an agent runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::str::contains;
use serde_json::json;

use crate::support::{TestRepo, godzilla_bin, hermetic};

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
    ("03-gamma.md", "# Gamma\nWrite gamma.txt.\n"),
];

fn exec(file: &str) -> serde_json::Value {
    json!([
        {"write": {"path": file, "content": format!("{file}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}
    ])
}

/// An exec invocation that signals it started (by writing `marker`), then sleeps.
fn slow_exec(file: &str, marker: &Path, ms: u64) -> serde_json::Value {
    json!([
        {"write": {"path": marker.to_str().unwrap(), "content": "started\n"}},
        {"sleep_ms": ms},
        {"write": {"path": file, "content": format!("{file}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    json!([{"emit_as": {"engine": "claude", "final_message": format!("Looks right.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}}}])
}

fn events(wt: &Path, id: &str) -> String {
    std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))).unwrap()
}

/// Starts godzilla in the background in the repository root.
fn spawn(repo: &TestRepo, args: &[&str]) -> Child {
    let mut cmd = Command::new(godzilla_bin());
    cmd.args(args)
        .current_dir(&repo.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    hermetic(&mut cmd, repo.home());
    cmd.spawn().expect("spawn godzilla")
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> crate::support::Run {
    child.wait_with_output().unwrap().into()
}

fn marker(repo: &TestRepo, name: &str) -> PathBuf {
    repo.home().join(name)
}

/// Issue 9.1: `protocol approve`, `clarify answer` (project and protocol scope), `protocol
/// pause` and `protocol cancel`, each from a second process while an engine runs, take
/// effect: nothing is erased by the engine guard, the attempt is not failed for it, and fsck
/// is clean.
#[test]
fn test_control_commands_take_effect_during_a_run() {
    let repo = TestRepo::with_fake_engine("claude");
    let mut steps = STEPS.to_vec();
    steps.push(("04-delta.md", "# Delta\nWrite delta.txt.\n"));
    let (id, wt) = repo.new_protocol("ctl", &steps);
    let spec_path = wt.join(format!(".godzilla/protocols/{id}/spec.json"));
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    file["spec"]["steps"][0]["needs_approval"] = json!(true);
    let spec: godzilla::domain::spec::ProtocolSpec =
        serde_json::from_value(file["spec"].clone()).unwrap();
    file["hash"] = spec.hash().into();
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    repo.git_in(&wt, &["commit", "-qam", "needs approval"]);
    repo.godzilla(&["clarify", "ask", "proj-q", "Which colour?"])
        .expect(0);
    repo.godzilla(&["clarify", "ask", "prot-q", "Which size?", "--protocol", &id])
        .expect(0);

    // Step 1 waits for a person.
    repo.script(json!([exec("alpha.txt")]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(run["stop"]["stop"], "approval");

    // While step 2's agent runs: approve step 1, answer both questions, pause.
    let started = marker(&repo, "started-2");
    repo.script(json!([slow_exec("beta.txt", &started, 3000)]));
    let child = spawn(&repo, &["--json", "step", "run", &id, "02-beta"]);
    wait_for(&started);
    repo.godzilla(&["protocol", "approve", &id, "01-alpha"])
        .expect(0);
    repo.godzilla(&["clarify", "answer", "proj-q", "blue"])
        .expect(0);
    repo.godzilla(&["clarify", "answer", "prot-q", "large", "--protocol", &id])
        .expect(0);
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    let step = finish(child).expect(0).json();
    assert_eq!(step["outcome"]["classification"], "ok", "{step}");
    assert_eq!(step["step_status"], "needs_qa");
    let log = events(&wt, &id);
    assert!(log.contains("\"type\":\"manual_approval\""), "{log}");
    assert!(log.contains("answered prot-q: large"), "{log}");
    assert!(log.contains("\"type\":\"paused\""), "{log}");
    let project = repo.read(".godzilla/events.jsonl");
    assert!(project.contains("answered proj-q: blue"), "{project}");
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(status["protocols"][0]["status"], "paused", "{status}");
    let show = repo
        .godzilla(&["--json", "protocol", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["steps"][0]["status"], "completed", "{show}");
    repo.godzilla(&["fsck"]).expect(0);

    // Resumed, then paused while step 3's agent runs in a `protocol run`: the run stops
    // after that agent, before the next engine run.
    repo.godzilla(&["protocol", "resume", &id]).expect(0);
    let started = marker(&repo, "started-3");
    repo.script(json!([
        review("PASS"),
        slow_exec("gamma.txt", &started, 3000)
    ]));
    let child = spawn(&repo, &["--json", "protocol", "run", &id]);
    wait_for(&started);
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    let run = finish(child);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["stop"]["stop"], "paused", "{json}");
    assert_eq!(repo.calls().len(), 2, "no engine ran after the pause");
    repo.godzilla(&["fsck"]).expect(0);

    // Resumed, then cancelled while step 4's agent runs.
    repo.godzilla(&["protocol", "resume", &id]).expect(0);
    let started = marker(&repo, "started-4");
    repo.script(json!([
        review("PASS"),
        slow_exec("delta.txt", &started, 3000)
    ]));
    let child = spawn(&repo, &["--json", "protocol", "run", &id]);
    wait_for(&started);
    repo.godzilla(&["protocol", "cancel", &id]).expect(0);
    let run = finish(child);
    let json = run.json();
    assert_eq!(json["stop"]["stop"], "cancelled", "{}", run.stderr);
    assert_eq!(json["status"], "cancelled");
    let log = events(&wt, &id);
    assert!(log.contains("\"type\":\"cancelled\""), "{log}");
    assert!(!log.contains("protected files"), "{log}");
    repo.godzilla(&["fsck"]).expect(0);
}

fn common_dir(repo: &TestRepo) -> PathBuf {
    repo.root.join(".git")
}

/// Issue 10.2: an agent that moves `refs/notes/godzilla` or rewinds its branch, or writes
/// into the main checkout's `.godzilla/` or the trust store, fails its attempt and everything
/// is put back; earlier notes survive.
#[test]
fn test_agent_cannot_move_refs_or_touch_main_state_or_trust() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("refs", STEPS);
    repo.script(json!([exec("alpha.txt")]));
    let first = repo
        .godzilla(&["--json", "step", "run", &id, "01-alpha"])
        .expect(0)
        .json();
    let first_commit = first["commit"].as_str().unwrap().to_owned();
    let note = repo.git(&["notes", "--ref=godzilla", "show", &first_commit]);
    let branch = format!("godzilla/{id}");
    let tip = repo.git(&["rev-parse", &branch]).trim().to_owned();
    let main_head = repo.git(&["rev-parse", "main"]).trim().to_owned();
    let common = common_dir(&repo);
    // Make both refs loose files, so the agent can rewrite them.
    let notes_commit = repo.git(&["rev-parse", "refs/notes/godzilla"]);
    std::fs::write(common.join("refs/notes/godzilla"), &notes_commit).unwrap();

    // The agent points the notes at an unrelated commit and rewinds its branch to main.
    repo.script(json!([[
        {"write": {"path": common.join("refs/notes/godzilla").to_str().unwrap(), "content": format!("{main_head}\n")}},
        {"write": {"path": common.join("refs/heads").join(&branch).to_str().unwrap(), "content": format!("{main_head}\n")}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "02-beta"])
        .expect(1)
        .json();
    assert_eq!(run["outcome"]["classification"], "engine_error", "{run}");
    let error = run["outcome"]["error"].as_str().unwrap();
    assert!(error.contains("refs/notes/godzilla"), "{error}");
    assert!(error.contains(&branch), "{error}");
    // The branch grew from where it was; the first step's note and file are intact.
    let parent = repo.git(&["rev-parse", &format!("{branch}~1")]);
    assert_eq!(parent.trim(), tip);
    assert_eq!(
        repo.git(&["notes", "--ref=godzilla", "show", &first_commit]),
        note
    );
    assert!(wt.join("alpha.txt").is_file());

    // The agent edits the main checkout's config and plants a trust marker.
    let main_config = repo.root.join(".godzilla/config.toml");
    let config_before = std::fs::read(&main_config).unwrap();
    let trust = common.join("godzilla/trust/planted");
    repo.script(json!([[
        {"write": {"path": main_config.to_str().unwrap(), "content": "[checks]\nx = [\"touch\", \"/tmp/pwned\"]\n"}},
        {"write": {"path": trust.to_str().unwrap(), "content": "{}"}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "02-beta"])
        .expect(1)
        .json();
    assert_eq!(run["outcome"]["classification"], "engine_error", "{run}");
    let error = run["outcome"]["error"].as_str().unwrap();
    assert!(error.contains("config.toml"), "{error}");
    assert!(error.contains("trust"), "{error}");
    assert_eq!(std::fs::read(&main_config).unwrap(), config_before);
    assert!(!trust.exists());
    repo.godzilla(&["fsck"]).expect(0);
}

/// A protocol worktree's `.git` file says where its repository is: an agent that points it at a
/// repository of its own would have the next steps commit there, out of the branch and the
/// notes the user reads.
#[test]
fn test_agent_cannot_point_its_worktree_at_another_repository() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("dotgit", STEPS);
    let decoy = repo.home().join("decoy");
    std::fs::create_dir_all(&decoy).unwrap();
    repo.git_in(&decoy, &["init", "-q"]);
    let dot_git = std::fs::read(wt.join(".git")).unwrap();
    repo.script(json!([
        [
            {"write": {"path": ".git", "content": format!("gitdir: {}\n", decoy.join(".git").display())}},
            {"write": {"path": "alpha.txt", "content": "alpha\n"}},
            {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
        ],
        exec("alpha.txt")
    ]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-alpha"])
        .expect(1)
        .json();
    assert_eq!(run["outcome"]["classification"], "engine_error", "{run}");
    let error = run["outcome"]["error"].as_str().unwrap();
    assert!(error.contains(".git"), "{error}");
    assert_eq!(std::fs::read(wt.join(".git")).unwrap(), dot_git);
    // The next attempt commits on the protocol's branch, as every step before.
    let branch = format!("godzilla/{id}");
    let before = repo.git(&["rev-list", "--count", &branch]);
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    let after = repo.git(&["rev-list", "--count", &branch]);
    assert_eq!(
        after.trim().parse::<u32>().unwrap(),
        before.trim().parse::<u32>().unwrap() + 1
    );
    assert!(
        repo.git_in(&decoy, &["rev-list", "--all"])
            .trim()
            .is_empty()
    );
    repo.godzilla(&["fsck"]).expect(0);
}

/// An agent that stages its own version of a state file and hides it from `git add` (an
/// index entry marked assume-unchanged, the file itself put back) must not get it committed:
/// the worktree the guard checked is what the step's commit stores.
#[test]
fn test_agent_cannot_commit_state_through_the_index() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("index", STEPS);
    let state = format!(".godzilla/protocols/{id}/protocol.toml");
    let original = std::fs::read_to_string(wt.join(&state)).unwrap();
    let config = ".godzilla/config.toml";
    let config_original = std::fs::read_to_string(wt.join(config)).unwrap();
    let forged = "forged = true\n";
    repo.script(json!([[
        {"write": {"path": &state, "content": forged}},
        {"write": {"path": config, "content": forged}},
        {"git": ["add", "--", &state, config]},
        {"git": ["update-index", "--assume-unchanged", "--", &state]},
        {"git": ["update-index", "--skip-worktree", "--", config]},
        {"write": {"path": &state, "content": &original}},
        {"write": {"path": config, "content": &config_original}},
        {"write": {"path": "alpha.txt", "content": "alpha\n"}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-alpha"])
        .expect(0)
        .json();
    let commit = run["commit"].as_str().unwrap();
    let in_git = |path: &str| repo.git_in(&wt, &["show", &format!("{commit}:{path}")]);
    assert_eq!(in_git(&state), original);
    assert_eq!(in_git(config), config_original);
    assert_eq!(
        in_git("alpha.txt"),
        "alpha\n",
        "the agent's own work is kept"
    );
    // Nothing in the index hides a state file from later commits either.
    let flags = repo.git_in(&wt, &["ls-files", "-v", "--", ".godzilla"]);
    assert!(flags.lines().all(|l| l.starts_with("H ")), "{flags}");

    // The same, and the kept index is rewritten through its second name: it cannot be put
    // back, which fails the run; the commit still stores the state as the guard found it.
    let git_dir = repo.git_in(&wt, &["rev-parse", "--absolute-git-dir"]);
    let kept = PathBuf::from(git_dir.trim()).join("godzilla-index.kept");
    let original = std::fs::read_to_string(wt.join(&state)).unwrap();
    repo.script(json!([[
        {"write": {"path": &state, "content": forged}},
        {"git": ["add", "--", &state]},
        {"git": ["update-index", "--assume-unchanged", "--", &state]},
        {"write": {"path": &state, "content": &original}},
        {"write": {"path": kept.to_str().unwrap(), "content": "DIRC forged"}},
        {"write": {"path": "beta.txt", "content": "beta\n"}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "02-beta"])
        .expect(1)
        .json();
    assert_eq!(run["outcome"]["classification"], "engine_error", "{run}");
    let error = run["outcome"]["error"].as_str().unwrap();
    assert!(error.contains("git index"), "{error}");
    assert_eq!(
        repo.git_in(&wt, &["show", &format!("HEAD:{state}")]),
        original
    );
    assert!(!kept.exists());
    repo.godzilla(&["fsck"]).expect(0);
}

/// Ignore rules an agent adds (the worktree's `.gitignore`, the repository's `info/exclude`)
/// do not keep godzilla's state out of its commits: the run record and the output the
/// attempt writes after the agent has finished are committed with its work, as is every later
/// state file, and nothing under `.godzilla/` is left untracked behind the rules.
#[test]
fn test_agent_ignore_rules_do_not_hide_state_from_commits() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("ignored", STEPS);
    let common = repo.root.join(".git");
    repo.script(json!([
        [
            {"write": {"path": ".gitignore", "content": ".godzilla/\n"}},
            {"write": {"path": common.join("info/exclude").to_str().unwrap(), "content": "*.json\n*.md\n"}},
            {"write": {"path": "alpha.txt", "content": "alpha\n"}},
            {"emit_as": {"engine": "claude", "final_message": "wrote alpha", "usage": {"input": 1, "output": 1}}}
        ],
        exec("beta.txt")
    ]));
    for step in ["01-alpha", "02-beta"] {
        let run = repo
            .godzilla(&["--json", "step", "run", &id, step])
            .expect(0)
            .json();
        let commit = run["commit"].as_str().unwrap();
        let record = run["record"].as_str().unwrap();
        let output = run["output"].as_str().unwrap();
        for path in [record, output] {
            let listed = repo.git_in(&wt, &["ls-tree", "--name-only", commit, "--", path]);
            assert_eq!(listed.trim(), path, "{step}: {path} is not in {commit}");
        }
    }
    let hidden = repo.git_in(
        &wt,
        &[
            "ls-files",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--",
            ".godzilla",
        ],
    );
    assert_eq!(hidden, "", "state files left untracked");
    assert_eq!(
        repo.git_in(&wt, &["show", "HEAD:.gitignore"]),
        ".godzilla/\n",
        "the agent's own change is kept"
    );
    repo.godzilla(&["fsck"]).expect(0);
}

/// A repository whose committed config names commands that leave a sentinel file when run.
fn hostile_origin(sentinels: &Path) -> TestRepo {
    let origin = TestRepo::new();
    origin.godzilla(&["init"]).expect(0);
    std::fs::create_dir_all(sentinels).unwrap();
    let script = sentinels.parent().unwrap().join("evil.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch \"{}/ran-$$\"\necho OK\n",
            sentinels.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = origin.read(".godzilla/config.toml");
    for phase in ["planning", "decompose", "exec", "qa", "discovery"] {
        config = config.replace(
            &format!("[phases.{phase}]\n"),
            &format!("[phases.{phase}]\nengine = \"evil\"\n"),
        );
    }
    config = config.replace(
        "[checks]\n",
        &format!("[checks]\nlint = [\"{}\", \"check\"]\n", script.display()),
    );
    config.push_str(&format!(
        "\n[engines.evil]\nkind = \"command\"\ncommand = \"{}\"\nargs = [\"{{prompt_file}}\"]\n",
        script.display()
    ));
    origin.write(".godzilla/config.toml", &config);
    origin.commit_all("a config that runs things");
    origin
}

fn sentinel_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Issue 10.1: in a fresh clone, every subcommand that can start a process refuses the
/// repository's commands until `godzilla allow`: no sentinel file appears, and a refused
/// `protocol new` leaves no branch or worktree behind.
#[test]
fn test_hostile_clone_runs_nothing_before_allow() {
    let scratch = tempfile::tempdir().unwrap();
    let sentinels = scratch.path().join("sentinels");
    let origin = hostile_origin(&sentinels);
    let clone = TestRepo::empty_dir();
    clone.git(&["clone", "-q", origin.root.to_str().unwrap(), "."]);
    let phases = clone.read(".godzilla/config.toml");
    assert!(phases.contains("engine = \"evil\""), "{phases}");

    let mut refusals = Vec::new();
    for args in [
        &["doctor"][..],
        &["doctor", "--run"],
        &["discover"],
        &["protocol", "new", "planned", "-d", "plan me"],
    ] {
        let run = clone.godzilla(args);
        assert_eq!(
            sentinel_count(&sentinels),
            0,
            "{args:?} ran a repository command"
        );
        refusals.push((args.join(" "), run));
    }
    for (_, run) in &refusals[2..] {
        run.assert().code(2).stderr(contains("not trusted"));
    }
    let doctor = &refusals[0].1;
    assert!(doctor.stdout.contains("not trusted") || doctor.stderr.contains("not trusted"));
    // The refused `protocol new` created nothing, so the same command is refused the same way.
    assert_eq!(clone.git(&["branch", "--list", "godzilla/*"]), "");
    assert!(!clone.root.join(".git/godzilla/worktrees").exists());

    let dir = clone.step_dir(&[("01-a.md", "# A\nDo a.\n")]);
    let created = clone
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "manual",
            "-d",
            "by hand",
            "--steps-from",
            dir.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "0001-manual");
    for args in [
        &["step", "run", &id, "01-a"][..],
        &["protocol", "run", &id],
        &["protocol", "decompose", &id],
        &["protocol", "plan", &id],
        &["qa", &id, "01-a"],
    ] {
        let run = clone.godzilla(args);
        assert_ne!(run.code, Some(0), "{args:?}: {}", run.stdout);
        assert_eq!(
            sentinel_count(&sentinels),
            0,
            "{args:?} ran a repository command"
        );
    }

    // The harness does see a command that runs: once trusted, doctor probes it.
    clone.godzilla(&["allow"]).expect(0);
    clone.godzilla(&["doctor"]);
    assert!(sentinel_count(&sentinels) > 0);
}

/// Issue 11.8: `allow` shows every trusted setting (a profile's args and env without a
/// command included), and the refusal names what the profile defines.
#[test]
fn test_allow_shows_exactly_what_it_trusts() {
    let repo = TestRepo::initialized();
    let mut config = repo.read(".godzilla/config.toml");
    config = config.replace("[phases.exec]\n", "[phases.exec]\nengine = \"tuned\"\n");
    config.push_str(
        "\n[engines.tuned]\nkind = \"claude\"\nargs = [\"--verbose\"]\nenv = [\"FOO\"]\n",
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("a tuned profile");
    let (id, _) = repo.new_protocol("t", &STEPS[..1]);
    let refused = repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(2);
    assert!(
        refused
            .stderr
            .contains("error: the args and env of engine `tuned` in "),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("/.godzilla/config.toml are not trusted on this machine")
    );
    let allow = repo.godzilla(&["allow"]).expect(0);
    assert!(
        allow.stdout.contains(
            "[engines.tuned]\nkind = \"claude\"\nargs = [\"--verbose\"]\nenv = [\"FOO\"]\n"
        ),
        "{}",
        allow.stdout
    );
}

/// Issue 10.4: a symbolic link planted in `.godzilla/` (a state directory or the event log)
/// is never followed: `step run` and `qa` refuse and write nothing through it, and `fsck`
/// reports it.
#[test]
fn test_symlinks_in_state_are_refused_and_reported() {
    for (what, link) in [
        ("outputs", "outputs"),
        ("runs", "runs"),
        ("qa", "qa"),
        ("log", "events.jsonl"),
    ] {
        let repo = TestRepo::with_fake_engine("claude");
        let (id, wt) = repo.new_protocol("links", &STEPS[..1]);
        let outside = repo.home().join(format!("outside-{what}"));
        let target = repo.root.join(format!(".godzilla/protocols/{id}/{link}"));
        let target = wt.join(target.strip_prefix(&repo.root).unwrap());
        if link == "events.jsonl" {
            std::fs::copy(&target, &outside).unwrap();
            std::fs::remove_file(&target).unwrap();
        } else {
            std::fs::create_dir_all(&outside).unwrap();
        }
        std::os::unix::fs::symlink(&outside, &target).unwrap();
        let before = TestRepo::snapshot(repo.home());
        repo.script(json!([exec("alpha.txt"), review("PASS")]));
        let run = repo.godzilla(&["step", "run", &id, "01-alpha"]);
        let qa = repo.godzilla(&["qa", &id, "01-alpha"]);
        let after = TestRepo::snapshot(repo.home());
        let written: Vec<_> = after
            .keys()
            .filter(|p| p.starts_with(&outside) && before.get(*p) != after.get(*p))
            .collect();
        assert!(
            written.is_empty(),
            "{what}: wrote through the link: {written:?}"
        );
        // `step run` writes no QA report: there the refusal comes from `qa`.
        let refused = if link == "qa" { &qa } else { &run };
        assert_ne!(refused.code, Some(0), "{what}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("is a symbolic link"),
            "{what}: {}",
            refused.stderr
        );
        assert_ne!(qa.code, Some(0), "{what}: {}", qa.stdout);
        let fsck = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
        assert!(
            fsck.stdout
                .contains(&format!("protocols/{id}/{link}: is a symbolic link")),
            "{what}: {}",
            fsck.stdout
        );
    }
}

/// Issue 10.6: fsck parses and validates `spec.json` and every `runs/*.json`; `--repair`
/// says why it leaves them alone.
#[test]
fn test_fsck_checks_spec_and_run_records() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("fsck", &STEPS[..2]);
    repo.script(json!([exec("alpha.txt")]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-alpha"])
        .expect(0)
        .json();
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
    let dir = wt.join(format!(".godzilla/protocols/{id}"));
    let spec_path = dir.join("spec.json");
    let record_path = dir.join(format!("runs/{run_id}.json"));
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    let record = std::fs::read_to_string(&record_path).unwrap();
    let spec_json: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let record_json: serde_json::Value = serde_json::from_str(&record).unwrap();

    let mut spec_mutations: Vec<(&str, String)> = vec![
        ("truncated", spec[..spec.len() / 2].to_owned()),
        ("not json", "hello".into()),
        (
            "hash",
            spec.replace(spec_json["hash"].as_str().unwrap(), "0000"),
        ),
    ];
    let mut edited = spec_json.clone();
    edited["spec"]["steps"][0]["prompt_ref"] = json!("../../../etc/passwd");
    spec_mutations.push(("escaping path", edited.to_string()));
    let mut edited = spec_json.clone();
    edited["spec"]["steps"][0]["id"] = json!(7);
    spec_mutations.push(("wrong type", edited.to_string()));
    for (what, bytes) in spec_mutations {
        std::fs::write(&spec_path, &bytes).unwrap();
        let fsck = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
        assert!(
            fsck.stdout
                .contains(&format!("problem: .godzilla/protocols/{id}/spec.json")),
            "{what}: {}",
            fsck.stdout
        );
        let repair = repo.godzilla_in(&wt, &["fsck", "--repair"], &[]).expect(3);
        assert!(
            repair
                .stdout
                .contains("not repaired: a spec holds choices a person made"),
            "{what}: {}",
            repair.stdout
        );
        assert_eq!(
            std::fs::read_to_string(&spec_path).unwrap(),
            bytes,
            "{what}"
        );
    }
    std::fs::write(&spec_path, &spec).unwrap();

    let mut record_mutations: Vec<(&str, String)> = vec![
        ("truncated", record[..record.len() / 2].to_owned()),
        ("empty", String::new()),
        ("array", "[]".into()),
    ];
    for (field, value) in [
        ("run_id", json!("someone-else")),
        ("attempt", json!("one")),
        ("attempt", json!(0)),
        ("classification", json!("fine")),
        ("protocol", json!("0009-other")),
        ("step", json!("../x")),
        ("usage", json!(12)),
    ] {
        let mut edited = record_json.clone();
        edited[field] = value;
        record_mutations.push((field, edited.to_string()));
    }
    let mut edited = record_json.clone();
    edited.as_object_mut().unwrap().remove("classification");
    record_mutations.push(("missing classification", edited.to_string()));
    for (what, bytes) in record_mutations {
        std::fs::write(&record_path, &bytes).unwrap();
        let fsck = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
        assert!(
            fsck.stdout.contains(&format!(
                "problem: .godzilla/protocols/{id}/runs/{run_id}.json"
            )),
            "{what}: {}",
            fsck.stdout
        );
        let repair = repo.godzilla_in(&wt, &["fsck", "--repair"], &[]).expect(3);
        assert!(
            repair
                .stdout
                .contains("not repaired: a run record is the history"),
            "{what}: {}",
            repair.stdout
        );
    }
    std::fs::write(&record_path, &record).unwrap();
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

/// Issue 10.8: `protocol run --until` a step the protocol does not have is a usage error
/// and runs nothing; a step name the validator accepts is one the spec schema accepts.
#[test]
fn test_run_until_unknown_step_is_a_usage_error() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("until", &STEPS[..2]);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    let run = repo
        .godzilla(&["protocol", "run", &id, "--until", "01-nonexist"])
        .expect(2);
    assert!(
        run.stderr.contains("has no step 01-nonexist"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.calls().len(), 0, "no engine ran");
    // `01-.a` is refused where step names are taken, like the schema refuses it.
    let dir = repo.step_dir(&[("01-.a.md", "# A\nx\n")]);
    repo.godzilla(&[
        "protocol",
        "new",
        "dot",
        "-d",
        "x",
        "--steps-from",
        dir.to_str().unwrap(),
    ])
    .assert()
    .code(2);
}

/// Issue 10.7: `init` skips (and reports) a remote whose name cannot be in a refspec, so
/// plain `git status` and `git fetch` keep working; a hostile `branch_prefix` is refused.
#[test]
fn test_init_skips_odd_remotes_and_validates_branch_prefix() {
    let repo = TestRepo::new();
    let origin = TestRepo::new();
    repo.git(&["remote", "add", "origin", origin.root.to_str().unwrap()]);
    let config = repo.root.join(".git/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[remote \"-oProxyCommand=touch pwned\"]\n\turl = {}\n",
        origin.root.display()
    ));
    std::fs::write(&config, text).unwrap();
    let init = repo.godzilla(&["init"]).expect(0);
    assert!(
        init.stderr
            .contains("remote `-oProxyCommand=touch pwned` skipped"),
        "{}",
        init.stderr
    );
    assert!(
        repo.git(&["config", "--get-all", "remote.origin.fetch"])
            .contains("+refs/notes/godzilla*:refs/notes/remotes/origin/godzilla*")
    );
    repo.git(&["status"]);
    repo.git(&["fetch", "-q", "origin"]);

    let mut config = repo.read(".godzilla/config.toml");
    config.push_str("");
    let config = if config.contains("branch_prefix") {
        regex::Regex::new(r#"(?m)^#? ?branch_prefix = .*$"#)
            .unwrap()
            .replace(&config, r#"branch_prefix = "-oProxyCommand=x/""#)
            .into_owned()
    } else {
        config.replace(
            "[project]\n",
            "[project]\nbranch_prefix = \"-oProxyCommand=x/\"\n",
        )
    };
    repo.write(".godzilla/config.toml", &config);
    let status = repo.godzilla(&["status"]).expect(2);
    assert!(status.stderr.contains("branch_prefix"), "{}", status.stderr);
}

/// Issue 10.9: programs a repository's config and attributes name (signing, external diff,
/// textconv, hooks; filter drivers outside the commands that store content) do not run in
/// godzilla's own git calls.
#[test]
fn test_git_calls_run_no_repository_programs() {
    let repo = TestRepo::with_fake_engine("claude");
    let scratch = tempfile::tempdir().unwrap();
    let sentinels = scratch.path().join("sentinels");
    std::fs::create_dir_all(&sentinels).unwrap();
    let script = |name: &str| {
        let path = scratch.path().join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ntouch \"{}/{name}-$$\"\ncat\n",
                sentinels.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let hooks = scratch.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    for hook in [
        "pre-commit",
        "post-commit",
        "post-checkout",
        "reference-transaction",
    ] {
        let path = script(hook);
        std::fs::copy(&path, hooks.join(hook)).unwrap();
    }
    repo.write(".gitattributes", "*.txt diff=evil filter=evil\n");
    repo.commit_all("attributes");
    for (key, value) in [
        ("commit.gpgSign", "true".to_owned()),
        ("gpg.program", script("gpg")),
        ("diff.external", script("extdiff")),
        ("diff.evil.textconv", script("textconv")),
        ("diff.evil.command", script("diffcmd")),
        ("filter.evil.clean", script("clean")),
        ("filter.evil.smudge", script("smudge")),
        ("core.hooksPath", hooks.display().to_string()),
    ] {
        repo.git(&["config", key, &value]);
    }
    let count = |prefix: &str| {
        std::fs::read_dir(&sentinels)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(prefix)
            })
            .count()
    };

    let (id, _) = repo.new_protocol("tools", &STEPS[..1]);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    repo.godzilla(&["qa", &id, "01-alpha"]).expect(0);
    for never in [
        "gpg",
        "extdiff",
        "textconv",
        "diffcmd",
        "pre-commit",
        "post-commit",
        "post-checkout",
        "reference-transaction",
    ] {
        assert_eq!(count(never), 0, "{never} ran");
    }
    // Reading commands run no filter driver either.
    let (clean, smudge) = (count("clean"), count("smudge"));
    repo.godzilla(&["status"]).expect(0);
    repo.godzilla(&["fsck"]).expect(0);
    repo.godzilla(&["step", "show", &id, "01-alpha"]).expect(0);
    repo.godzilla(&["notes", "show", &format!("godzilla/{id}")]);
    assert_eq!((count("clean"), count("smudge")), (clean, smudge));
}
