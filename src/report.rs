//! How the library tells the user what it is doing without printing: the CLI supplies a
//! [`Reporter`] that renders status lines and warnings on stderr; tests supply a silent one.

/// Receives status updates and warnings from services.
pub trait Reporter: Send + Sync {
    /// A one-line update such as `Creating protocol 0001-x`; hidden by `--quiet`.
    fn status(&self, verb: &str, message: &str);
    /// Something the user should know that does not stop the command.
    fn warn(&self, message: &str);
}

/// A reporter that drops everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn status(&self, _verb: &str, _message: &str) {}
    fn warn(&self, _message: &str) {}
}
