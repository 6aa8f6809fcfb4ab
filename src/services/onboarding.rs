//! The onboarding service: sets a repository up for godzilla (`godzilla init`).
//!
//! Init is idempotent: each piece (format file, config, attributes, git config, machine-local
//! directories) is written only when it differs, and the outcome lists what changed, so the
//! second run can say "nothing changed".

use serde::Serialize;

use crate::config::{self, CiProvider, TemplateValues};
use crate::context::Context;
use crate::domain::EventKind;
use crate::git::Git;
use crate::services::platform::storage::{self, Store, write_atomic};
use crate::services::platform::telemetry;

/// Errors from onboarding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// The config template failed to render (a bug).
    #[error("cannot render the config template")]
    Template(#[source] minijinja::Error),
}

/// What `init` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Base branch; default: the current branch, else `main`.
    pub base_branch: Option<String>,
    /// CI provider; default `none`.
    pub ci: Option<CiProvider>,
    /// Engine for every phase; default: left commented out.
    pub engine: Option<String>,
    /// Rewrite `config.toml` even if it exists.
    pub force: bool,
}

/// What `init` did.
#[derive(Clone, Debug, Serialize)]
pub struct InitOutcome {
    /// The working tree that was set up.
    pub root: String,
    /// One line per change; empty when everything was already in place.
    pub changes: Vec<String>,
}

/// Sets up the repository of `ctx` for godzilla.
pub fn init_project(ctx: &Context, opts: &InitOptions) -> Result<InitOutcome, Error> {
    let store = Store::new(&ctx.paths);
    let mut changes = Vec::new();

    // A newer layout must be refused before anything is touched.
    match store.check_format() {
        Ok(_) => {}
        Err(storage::Error::NotInitialized { .. }) => {
            write_atomic(
                &store.format_path(),
                format!("{}\n", storage::FORMAT).as_bytes(),
            )?;
            changes.push(format!("wrote {}", store.display(&store.format_path())));
        }
        Err(e) => return Err(e.into()),
    }

    let config_path = store.config_path();
    let exists = config_path.exists();
    if exists && !opts.force {
        // Validate what is there: a broken config is an error to show now, not later.
        store.load_config()?;
    } else {
        let values = TemplateValues {
            base_branch: opts
                .base_branch
                .clone()
                .unwrap_or_else(|| current_branch(ctx).unwrap_or_else(|| "main".into())),
            ci: opts.ci.unwrap_or_default().as_str().to_owned(),
            engine: opts.engine.clone(),
        };
        let text = config::render_template(&values).map_err(Error::Template)?;
        let old = storage::read_optional(&config_path)?;
        if old.as_deref() != Some(text.as_bytes()) {
            write_atomic(&config_path, text.as_bytes())?;
            changes.push(format!(
                "{} {}",
                if exists { "rewrote" } else { "wrote" },
                store.display(&config_path)
            ));
        }
    }

    let attributes = ctx.paths.work_tree.join(".gitattributes");
    let old = String::from_utf8_lossy(&storage::read_optional(&attributes)?.unwrap_or_default())
        .into_owned();
    let body = "# godzilla event logs are append-only; a union merge keeps both sides' events.\n\
                .godzilla/**/events.jsonl merge=union\n";
    let new = storage::upsert_block(&old, "godzilla", body);
    if new != old {
        write_atomic(&attributes, new.as_bytes())?;
        changes.push("added the events.jsonl merge=union block to .gitattributes".into());
    }

    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let notes_ref = "refs/notes/godzilla";
    if git.config_add("notes.rewriteRef", notes_ref)? {
        changes.push(format!("set notes.rewriteRef = {notes_ref}"));
    }
    for key in ["notes.rewrite.rebase", "notes.rewrite.amend"] {
        if git.config_set(key, "true")? {
            changes.push(format!("set {key} = true"));
        }
    }
    if git.config_set("notes.godzilla.mergeStrategy", "cat_sort_uniq")? {
        changes.push("set notes.godzilla.mergeStrategy = cat_sort_uniq".into());
    }
    for remote in git.remotes()? {
        // Into a remote-tracking notes ref, never straight over local notes: a forced fetch
        // onto refs/notes/godzilla would drop notes not yet pushed.
        let spec = format!("+{notes_ref}:refs/notes/remotes/{remote}/godzilla");
        if git.config_add(&format!("remote.{remote}.fetch"), &spec)? {
            changes.push(format!("added fetch refspec {spec} to remote {remote}"));
        }
    }

    for sub in ["locks", "logs", "queue"] {
        let dir = store.local_dir().join(sub);
        if !dir.is_dir() {
            storage::create_dir(&dir)?;
            changes.push(format!("created {}", dir.display()));
        }
    }

    if !changes.is_empty() {
        let mut metadata = serde_json::Map::new();
        metadata.insert("changes".into(), changes.clone().into());
        telemetry::log_project_event(
            ctx,
            &store,
            EventKind::ProjectInitialized,
            "godzilla init",
            metadata,
        )?;
    }
    Ok(InitOutcome {
        root: ctx.paths.work_tree.display().to_string(),
        changes,
    })
}

/// The branch checked out in the current worktree, read from `HEAD` directly.
pub fn current_branch(ctx: &Context) -> Option<String> {
    let head = std::fs::read_to_string(ctx.paths.git_dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}
