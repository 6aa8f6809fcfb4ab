//! `doctor`'s login check: each engine a phase uses is asked by its CLI's own login-status
//! command (`codex login status`, `claude auth status`, `opencode auth list`; gemini has
//! none) whether it is logged in. Only the answer is reported, never the command's output,
//! which can show part of a key.

use crate::engines::{Engine, LoginStatus};

/// The login status of `engine` (used by the phases `used_by`), and the problem to report:
/// the CLI says it is not logged in, no API key variable is given to it either, and the
/// credential check (`no_credentials`) has not already said so.
pub fn check_login(
    engine: &dyn Engine,
    used_by: &[&str],
    no_credentials: bool,
) -> (Option<LoginStatus>, Option<String>) {
    let Some(status) = engine.login_status() else {
        return (None, None);
    };
    let problem =
        (status.logged_in == Some(false) && !status.key_given && !no_credentials).then(|| {
            format!(
                "engine `{}` is configured for {} but `{}` says it is not logged in: log in \
                 (in the engine's own home when `home = \"isolated\"`) or pass an API key with \
                 `api_key_env`",
                engine.name(),
                used_by.join(", "),
                status.command
            )
        });
    (Some(status), problem)
}
