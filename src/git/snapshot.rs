//! What planning and discovery are told about a repository: its tracked files and the build,
//! test and lint commands its build files declare. Read through git, decided nothing.

use serde::Serialize;

use super::Git;

/// A command detected from a repository's build files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetectedCommand {
    /// `build`, `test` or `lint`.
    pub purpose: &'static str,
    /// The tool it comes from (`cargo`, `npm`...).
    pub tool: &'static str,
    /// The argv.
    pub argv: Vec<String>,
}

/// What planning and discovery are told about a repository.
#[derive(Clone, Debug, Serialize)]
pub struct RepoSnapshot {
    /// Tracked files.
    pub files: usize,
    /// Top-level entries with the number of tracked files under each.
    pub top_level: Vec<(String, usize)>,
    /// A sample of tracked paths (sorted, bounded).
    pub paths: Vec<String>,
    /// Build, test and lint commands detected from build files.
    pub commands: Vec<DetectedCommand>,
}

/// Most paths listed in a snapshot: enough to ground a plan, small enough for any prompt.
const SNAPSHOT_PATHS: usize = 300;

/// Reads the tracked files of the worktree at `root` and detects its build commands.
pub fn repo_snapshot(
    git: &Git,
    root: &std::path::Path,
) -> Result<RepoSnapshot, crate::process::Error> {
    let out = git.run(&["ls-files", "-z"])?;
    let mut all: Vec<&str> = out
        .split('\0')
        .filter(|p| !p.is_empty() && !p.starts_with(".godzilla/"))
        .collect();
    all.sort_unstable();
    let mut top: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for p in &all {
        let first = p.split('/').next().unwrap_or(p);
        let key = if p.contains('/') {
            format!("{first}/")
        } else {
            first.to_owned()
        };
        *top.entry(key).or_insert(0) += 1;
    }
    let has = |name: &str| all.contains(&name);
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    let argv = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut commands = Vec::new();
    let mut add = |purpose, tool, cmd: &str| {
        commands.push(DetectedCommand {
            purpose,
            tool,
            argv: argv(cmd),
        });
    };
    if has("Cargo.toml") {
        add("build", "cargo", "cargo build --all-targets");
        add("test", "cargo", "cargo test");
        add("lint", "cargo", "cargo clippy --all-targets -- -D warnings");
    }
    if has("package.json") {
        let pm = if has("pnpm-lock.yaml") {
            "pnpm"
        } else if has("yarn.lock") {
            "yarn"
        } else {
            "npm"
        };
        let scripts: serde_json::Value =
            serde_json::from_str(&read("package.json")).unwrap_or_default();
        for (purpose, script) in [("build", "build"), ("test", "test"), ("lint", "lint")] {
            if scripts["scripts"][script].is_string() {
                add(purpose, "npm", &format!("{pm} run {script}"));
            }
        }
    }
    if has("pyproject.toml") || has("setup.py") || has("requirements.txt") {
        let runner = if has("uv.lock") {
            "uv run "
        } else {
            "python -m "
        };
        add("test", "python", &format!("{runner}pytest -q"));
        if read("pyproject.toml").contains("[tool.ruff") {
            add(
                "lint",
                "python",
                &format!(
                    "{}ruff check .",
                    if has("uv.lock") { "uv run " } else { "" }
                ),
            );
        }
    }
    if has("go.mod") {
        add("build", "go", "go build ./...");
        add("test", "go", "go test ./...");
        add("lint", "go", "go vet ./...");
    }
    if has("pom.xml") {
        add("build", "maven", "mvn -q -DskipTests package");
        add("test", "maven", "mvn -q test");
    }
    if has("build.gradle") || has("build.gradle.kts") {
        let gradle = if has("gradlew") {
            "./gradlew"
        } else {
            "gradle"
        };
        add("build", "gradle", &format!("{gradle} build -x test"));
        add("test", "gradle", &format!("{gradle} test"));
    }
    if has("Makefile") {
        let makefile = read("Makefile");
        for target in ["build", "test", "lint"] {
            if makefile
                .lines()
                .any(|l| l.starts_with(&format!("{target}:")))
            {
                add(
                    if target == "build" {
                        "build"
                    } else if target == "test" {
                        "test"
                    } else {
                        "lint"
                    },
                    "make",
                    &format!("make {target}"),
                );
            }
        }
    }
    Ok(RepoSnapshot {
        files: all.len(),
        top_level: top.into_iter().collect(),
        paths: all
            .iter()
            .take(SNAPSHOT_PATHS)
            .map(|s| (*s).to_owned())
            .collect(),
        commands,
    })
}

impl RepoSnapshot {
    /// The snapshot as prompt text.
    pub fn to_prompt(&self) -> String {
        let mut text = format!("{} tracked files.\n\nTop level:\n", self.files);
        for (name, count) in &self.top_level {
            text.push_str(&format!("- {name} ({count} files)\n"));
        }
        text.push_str("\nDetected commands:\n");
        if self.commands.is_empty() {
            text.push_str("- none detected\n");
        }
        for c in &self.commands {
            text.push_str(&format!("- {}: `{}`\n", c.purpose, c.argv.join(" ")));
        }
        text.push_str(&format!(
            "\nFiles{}:\n",
            if self.paths.len() < self.files {
                " (first ones)"
            } else {
                ""
            }
        ));
        for p in &self.paths {
            text.push_str(&format!("{p}\n"));
        }
        text
    }

    /// How many of the snapshot's paths and commands `text` mentions: a plan that names
    /// nothing of the repository is weakly grounded.
    pub fn grounding(&self, text: &str) -> usize {
        let paths = self
            .paths
            .iter()
            .filter(|p| p.len() > 3 && text.contains(p.as_str()))
            .count();
        let commands = self
            .commands
            .iter()
            .filter(|c| text.contains(&c.argv.join(" ")))
            .count();
        paths + commands
    }
}
