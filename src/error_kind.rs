//! What kind of failure an error is. The library decides it, beside each error enum (a
//! wrapper asks the error it wraps); the CLI only renders it, as an exit code. It sits at the
//! bottom of the layers so that the errors of every layer can say their kind.

/// What kind of failure an error is; the CLI's exit code (README, "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot be done as asked: bad usage, configuration or input, a refused
    /// transition, an untrusted config. Exit code 2.
    Usage,
    /// Something failed on the way: I/O, git, an engine. Exit code 1.
    Failed,
    /// The work met a negative outcome: problems found, a budget exhausted, a protocol
    /// blocked, paused or waiting. Exit code 3.
    Negative,
    /// A bug in godzilla. Exit code 255.
    Internal,
}

/// An error that knows what [`ErrorKind`] of failure it is.
pub trait HasKind {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
}

impl<T: HasKind + ?Sized> HasKind for Box<T> {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}
