//! [`Lazy`]: a command's arguments built into clap's tree only when that command is parsed.

use clap::{ArgMatches, Args, Command, FromArgMatches, Subcommand};

/// The arguments (or subcommands) of one command, added to clap's command tree only when the
/// command line names that command (clap's [`Command::defer`]).
///
/// Parsing builds the tree of every command first: a few hundred arguments with their help
/// texts, a measurable part of a `step run`'s own time (#13). `--help` and usage errors
/// build the command they are about, so they read as before; completions and manual pages
/// walk the whole tree and ask for it [`eager`]ly.
#[derive(Debug, Clone)]
pub struct Lazy<T>(pub T);

thread_local! {
    static EAGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Builds `make`'s tree whole, nothing deferred: for what walks every command (completions,
/// manual pages).
pub fn eager<R>(make: impl FnOnce() -> R) -> R {
    let before = EAGER.replace(true);
    let made = make();
    EAGER.set(before);
    made
}

/// `augment` now when building eagerly, else when clap enters the command.
fn deferred(cmd: Command, augment: fn(Command) -> Command) -> Command {
    if EAGER.get() {
        augment(cmd)
    } else {
        cmd.defer(augment)
    }
}

/// `augment`, with the command's own description kept. Built eagerly, the arguments' type
/// describes the command first and the command's doc comment overrides it; deferred, the
/// order is reversed, so the command's description (when it has one) is put back.
fn keeping_about(cmd: Command, augment: impl FnOnce(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = augment(cmd);
    match about {
        Some(about) => match long_about {
            Some(long) => cmd.about(about).long_about(long),
            None => cmd.about(about).long_about(None::<&str>),
        },
        None => cmd,
    }
}

fn args_keeping_about<T: Args>(cmd: Command) -> Command {
    keeping_about(cmd, T::augment_args)
}

fn args_for_update_keeping_about<T: Args>(cmd: Command) -> Command {
    keeping_about(cmd, T::augment_args_for_update)
}

fn subcommands_keeping_about<T: Subcommand>(cmd: Command) -> Command {
    keeping_about(cmd, T::augment_subcommands)
}

fn subcommands_for_update_keeping_about<T: Subcommand>(cmd: Command) -> Command {
    keeping_about(cmd, T::augment_subcommands_for_update)
}

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Self)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Self)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Args> Args for Lazy<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }

    fn augment_args(cmd: Command) -> Command {
        deferred(cmd, args_keeping_about::<T>)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        deferred(cmd, args_for_update_keeping_about::<T>)
    }
}

impl<T: Subcommand> Subcommand for Lazy<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        deferred(cmd, subcommands_keeping_about::<T>)
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        deferred(cmd, subcommands_for_update_keeping_about::<T>)
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use crate::cli::Cli;

    /// Every command path of the whole tree, as argv after the binary's name.
    fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            let about = sub
                .get_long_about()
                .or(sub.get_about())
                .map(ToString::to_string)
                .unwrap_or_default();
            out.push((path.clone(), about));
            paths(sub, &path, out);
        }
    }

    #[test]
    fn parsing_builds_only_the_named_command() {
        let lazy = Cli::command();
        let step = lazy.find_subcommand("step").unwrap();
        assert_eq!(step.get_subcommands().count(), 0, "deferred until parsed");
        let eager = crate::cli::command();
        let step = eager.find_subcommand("step").unwrap();
        assert!(step.find_subcommand("run").is_some());
        assert!(
            step.find_subcommand("run")
                .unwrap()
                .get_arguments()
                .any(|a| a.get_id() == "protocol")
        );
    }

    #[test]
    fn help_of_every_command_describes_it_as_the_whole_tree_does() {
        let mut all = Vec::new();
        paths(&crate::cli::command(), &[], &mut all);
        assert!(all.len() > 60, "{}", all.len());
        for (path, about) in all {
            let argv = std::iter::once("godzilla".to_owned())
                .chain(path.iter().cloned())
                .chain(["--help".to_owned()]);
            let err = Cli::try_parse_from(argv).expect_err("--help stops the parse");
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{path:?}");
            let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let shown = words(&err.to_string());
            assert!(
                shown.starts_with(&words(&about)),
                "`{}` --help starts with {shown:?}, not {about:?}",
                path.join(" ")
            );
        }
    }
}
