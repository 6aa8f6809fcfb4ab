//! Output: data on stdout (human text or `--json`), status and errors on stderr, colour by
//! `--color` / `NO_COLOR` / terminal detection.

use std::io::Write;
use std::process::ExitCode;

use console::Style;
use serde::Serialize;

use super::error::{CliError, ExitKind};
use crate::report::Reporter;

/// When to colour output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// What a command concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 3: the command ran, and the answer is negative.
    Negative,
    /// Exit 1: the command ran, and what it ran failed (an engine error, say).
    Failed,
}

/// The two output streams and how to write to them.
pub struct Ui {
    json: bool,
    quiet: bool,
    bar: ActiveBar,
}

/// The spinner on screen, if any: status lines printed while it spins must clear it first
/// and let it redraw after, or the two garble each other.
type ActiveBar = std::sync::Arc<std::sync::Mutex<Option<indicatif::ProgressBar>>>;

fn above_bar(bar: &ActiveBar, write: impl FnOnce()) {
    let current = bar.lock().ok().and_then(|b| b.clone());
    match current {
        Some(b) if !b.is_finished() => b.suspend(write),
        _ => write(),
    }
}

/// Spinners only where a person watches: stderr is a terminal and not `--quiet`.
fn wants_spinner(quiet: bool) -> bool {
    !quiet && console::Term::stderr().is_term()
}

/// A [`Reporter`] printing cargo-style status lines to stderr.
pub struct StderrReporter {
    quiet: bool,
    bar: ActiveBar,
}

impl Reporter for StderrReporter {
    fn status(&self, verb: &str, message: &str) {
        if !self.quiet {
            let verb = Style::new()
                .for_stderr()
                .green()
                .bold()
                .apply_to(format!("{verb:>12}"));
            above_bar(&self.bar, || {
                let _ignored = writeln!(std::io::stderr(), "{verb} {message}");
            });
        }
    }

    fn warn(&self, message: &str) {
        let label = Style::new()
            .for_stderr()
            .yellow()
            .bold()
            .apply_to("warning:");
        above_bar(&self.bar, || {
            let _ignored = writeln!(std::io::stderr(), "{label} {message}");
        });
    }
}

impl Ui {
    /// Sets up colour and streams.
    pub fn new(json: bool, quiet: bool, color: ColorChoice, no_color_env: bool) -> Self {
        match color {
            ColorChoice::Always => console::set_colors_enabled(true),
            ColorChoice::Never => console::set_colors_enabled(false),
            ColorChoice::Auto if no_color_env => console::set_colors_enabled(false),
            ColorChoice::Auto => {}
        }
        match color {
            ColorChoice::Always => console::set_colors_enabled_stderr(true),
            ColorChoice::Never => console::set_colors_enabled_stderr(false),
            ColorChoice::Auto if no_color_env => console::set_colors_enabled_stderr(false),
            ColorChoice::Auto => {}
        }
        Self {
            json,
            quiet,
            bar: ActiveBar::default(),
        }
    }

    /// The reporter services get.
    pub fn reporter(&self) -> StderrReporter {
        StderrReporter {
            quiet: self.quiet,
            bar: self.bar.clone(),
        }
    }

    /// A live spinner on stderr, or `None` when nobody watches (not a terminal, `--quiet`).
    pub fn spinner(&self) -> Option<indicatif::ProgressBar> {
        if !wants_spinner(self.quiet) {
            return None;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar.clone());
        }
        Some(bar)
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Writes one line of human output to stdout; `--quiet` drops it (the exit code, errors
    /// and warnings still tell the outcome).
    pub fn line(&mut self, text: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        let mut out = std::io::stdout().lock();
        // A closed pipe (`godzilla status | head`) is not an error worth reporting.
        let _ignored = writeln!(out, "{}", text.as_ref());
    }

    /// Writes bytes to stdout as they are.
    pub fn raw(&mut self, bytes: &[u8]) {
        let _ignored = std::io::stdout().lock().write_all(bytes);
    }

    /// Writes a JSON document to stdout (also with `--quiet`: `--json` asks for it).
    pub fn json(&mut self, value: &impl Serialize) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        let _ignored = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// A warning on stderr (shown even with `--quiet`).
    pub fn warn(&self, message: &str) {
        self.reporter().warn(message);
    }

    /// A status line on stderr (hidden by `--quiet`).
    pub fn status(&self, verb: &str, message: &str) {
        self.reporter().status(verb, message);
    }

    /// Prints the error, if any, and turns the result into the exit code.
    pub fn finish(self, result: Result<Outcome, CliError>) -> ExitCode {
        match result {
            Ok(Outcome::Success) => ExitKind::Success.into(),
            Ok(Outcome::Negative) => ExitKind::Negative.into(),
            Ok(Outcome::Failed) => ExitKind::Failed.into(),
            Err(err) => {
                print_error(&err);
                err.kind.into()
            }
        }
    }
}

/// `error: ...`, each cause on its own line, then hints.
pub fn print_error(err: &CliError) {
    let mut stderr = std::io::stderr().lock();
    let red = Style::new().for_stderr().red().bold();
    let cyan = Style::new().for_stderr().cyan().bold();
    let _ignored = writeln!(stderr, "{} {}", red.apply_to("error:"), err.error);
    for cause in err.error.chain().skip(1) {
        let _ignored = writeln!(stderr, "  caused by: {cause}");
    }
    for hint in &err.hints {
        let _ignored = writeln!(stderr, "{} {hint}", cyan.apply_to("hint:"));
    }
}

/// Colour helpers for human output on stdout.
pub mod paint {
    use console::Style;

    use crate::domain::ProtocolStatus;

    /// A protocol status, coloured by how it is doing.
    pub fn protocol_status(status: Option<ProtocolStatus>) -> String {
        let Some(status) = status else {
            return Style::new().red().apply_to("corrupt").to_string();
        };
        let style = match status {
            ProtocolStatus::Completed => Style::new().green(),
            ProtocolStatus::Running | ProtocolStatus::Planning => Style::new().cyan(),
            ProtocolStatus::Blocked | ProtocolStatus::Failed => Style::new().red(),
            ProtocolStatus::Paused | ProtocolStatus::Cancelled => Style::new().yellow(),
            ProtocolStatus::Pending | ProtocolStatus::Planned => Style::new(),
        };
        style
            .apply_to(format!("{:<9}", status.as_str()))
            .to_string()
    }

    /// `stopped`, for a run that nothing advances any more.
    pub fn stopped() -> String {
        Style::new()
            .yellow()
            .apply_to(format!("{:<9}", "stopped"))
            .to_string()
    }

    /// Dim text.
    pub fn dim(text: &str) -> String {
        Style::new().dim().apply_to(text).to_string()
    }
}
