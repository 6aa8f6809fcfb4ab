//! `godzilla init`: sets a repository up for godzilla, idempotently.

use serde::Serialize;

use super::Error;
use crate::config::{self, CiProvider, TemplateValues};
use crate::context::Context;
use crate::domain::EventKind;
use crate::git::Git;
use crate::services::platform::storage::{self, Store, write_atomic};
use crate::services::platform::telemetry;

/// Checks a branch name by git's rules (`git check-ref-format --branch`), without running git:
/// a name that is a path trick (`../x`) or an option (`-f`) never reaches a ref or argv.
pub fn check_branch_name(name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadBranch {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.starts_with('-') {
        return bad("it starts with `-`");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.contains("@{") || name == "@" {
        return bad("it contains `@{` or is `@`");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return bad("it contains a space, a control character or one of ~ ^ : ? * [ \\");
    }
    if name.ends_with('/') || name.ends_with('.') || name.contains("//") {
        return bad("it ends with `/` or `.`, or has an empty component");
    }
    if name
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        return bad("a component starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// Sets `[project] KEY = value` in an existing config text, keeping comments and layout.
/// Returns the new text and the old value when it changed.
fn set_project_key(
    path: &std::path::Path,
    text: &str,
    key: &str,
    value: &str,
) -> Result<Option<(String, Option<String>)>, Error> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|source| Error::EditConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let project = doc
        .entry("project")
        .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    let old = project.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if old.as_deref() == Some(value) {
        return Ok(None);
    }
    match project.get_mut(key).and_then(|i| i.as_value_mut()) {
        // Keeps the comment and spacing around the value.
        Some(v) => {
            let decor = v.decor().clone();
            *v = value.into();
            *v.decor_mut() = decor;
        }
        None => project[key] = toml_edit::value(value),
    }
    Ok(Some((doc.to_string(), old)))
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
    if let Some(branch) = &opts.base_branch {
        check_branch_name(branch)?;
    }
    write_format(&store, &mut changes)?;
    write_config(ctx, &store, opts, &mut changes)?;
    write_attributes(ctx, &mut changes)?;
    configure_git(ctx, &mut changes)?;
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

/// Writes the format file; a newer layout is refused before anything is touched.
fn write_format(store: &Store, changes: &mut Vec<String>) -> Result<(), Error> {
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
    Ok(())
}

/// Writes `config.toml` from the template, or applies the values asked for to the existing one.
fn write_config(
    ctx: &Context,
    store: &Store,
    opts: &InitOptions,
    changes: &mut Vec<String>,
) -> Result<(), Error> {
    let config_path = store.config_path();
    let exists = config_path.exists();
    if exists && !opts.force {
        // Validate what is there: a broken config is an error to show now, not later.
        store.load_config()?;
        // Values asked for explicitly are applied to the existing file (not silently
        // ignored), each edit in place so the user's comments stay.
        let asked = [
            ("base_branch", opts.base_branch.clone()),
            ("ci", opts.ci.map(|c| c.as_str().to_owned())),
        ];
        for (key, value) in asked {
            let Some(value) = value else { continue };
            let text =
                String::from_utf8_lossy(&storage::read_optional(&config_path)?.unwrap_or_default())
                    .into_owned();
            if let Some((new, old)) = set_project_key(&config_path, &text, key, &value)? {
                crate::config::parse(&new).map_err(|source| storage::Error::Toml {
                    path: config_path.clone(),
                    source: Box::new(source),
                })?;
                write_atomic(&config_path, new.as_bytes())?;
                changes.push(match old {
                    Some(old) => format!("set project.{key} = \"{value}\" (was \"{old}\")"),
                    None => format!("set project.{key} = \"{value}\""),
                });
            }
        }
    } else {
        let values = TemplateValues {
            base_branch: opts.base_branch.clone().unwrap_or_else(|| {
                crate::git::current_branch(&ctx.paths.git_dir).unwrap_or_else(|| "main".into())
            }),
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
    Ok(())
}

/// Adds the union-merge block for event logs to `.gitattributes`.
fn write_attributes(ctx: &Context, changes: &mut Vec<String>) -> Result<(), Error> {
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
    Ok(())
}

/// Sets the git config that carries notes through rebases, merges and fetches.
fn configure_git(ctx: &Context, changes: &mut Vec<String>) -> Result<(), Error> {
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
        // A name git would not accept in a refspec would leave a config that breaks every
        // later `git status` and `git fetch`: skipped, and said.
        if !is_refspec_safe(&remote) {
            ctx.reporter.warn(&format!(
                "remote `{}` skipped: its name cannot be used in a refspec (letters, digits, `.`, `_`, `-`); rename it with `git remote rename` and run `godzilla init` again",
                remote.escape_default()
            ));
            continue;
        }
        // Into a remote-tracking notes ref, never straight over local notes: a forced fetch
        // onto refs/notes/godzilla would drop notes not yet pushed.
        // A pattern (`godzilla*`), because an exact source that the remote does not have yet
        // makes every `git fetch` of that remote fail.
        let spec = format!("+{notes_ref}*:refs/notes/remotes/{remote}/godzilla*");
        let key = format!("remote.{remote}.fetch");
        if git.config_add(&key, &spec)? {
            changes.push(format!("added fetch refspec {spec} to remote {remote}"));
        }
        let old = format!("+{notes_ref}:refs/notes/remotes/{remote}/godzilla");
        if git.config_get_all(&key)?.contains(&old) {
            git.run(&[
                "config",
                "--local",
                "--fixed-value",
                "--unset",
                "--end-of-options",
                &key,
                &old,
            ])?;
            changes.push(format!(
                "removed the exact refspec {old} from remote {remote}"
            ));
        }
    }
    Ok(())
}

/// Whether a remote's name can go into `refs/notes/remotes/<name>/godzilla` and a config key
/// safely: `[A-Za-z0-9._-]` parts separated by `/`, none starting with `-` or `.`, no `..`,
/// no `.lock` ending.
fn is_refspec_safe(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with(['-', '.'])
                && !part.ends_with(".lock")
                && !part.ends_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        && !name.contains("..")
}
