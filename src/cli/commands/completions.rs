//! `godzilla completions` and `godzilla man`: generated from the clap definitions.

use std::path::{Path, PathBuf};

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::services::platform::storage;

/// Print a completion script for SHELL on stdout (it asks `godzilla` for the candidates, so
/// protocol and step ids of the repository complete too).
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the manual page of godzilla on stdout, or write every page into a directory.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write `godzilla.1` and one page per subcommand into DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    crate::cli::complete::registration(shell)
}

/// Every man page as `(file name, content)`.
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let mut pages = Vec::new();
    let cmd = crate::cli::command();
    render_pages(&cmd, "godzilla", &mut pages)?;
    Ok(pages)
}

fn render_pages(
    cmd: &clap::Command,
    name: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), std::io::Error> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    pages.push((format!("{name}.1"), out));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        render_pages(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

/// Runs `completions`.
pub fn run_completions(ui: &mut Ui, args: &CompletionsArgs) -> Result<Outcome, CliError> {
    ui.raw(&completion_script(args.shell));
    Ok(Outcome::Success)
}

/// Runs `man`.
pub fn run_man(ui: &mut Ui, args: &ManArgs) -> Result<Outcome, CliError> {
    let pages = man_pages().map_err(|e| CliError::new(ExitKind::Internal, e))?;
    match &args.dir {
        None => {
            let main = pages
                .first()
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            ui.raw(format!("{}\n", main.trim_end()).as_bytes());
        }
        Some(dir) => {
            for (name, bytes) in &pages {
                storage::write_atomic(&Path::new(dir).join(name), bytes)?;
            }
            ui.status(
                "Wrote",
                &format!("{} man pages to {}", pages.len(), dir.display()),
            );
        }
    }
    Ok(Outcome::Success)
}
