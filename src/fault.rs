//! Test-only failpoints.
//!
//! `fault::point("name")` compiles to nothing unless the `fault-injection` feature is on. With
//! it on, `GODZILLA_FAULT=name` (captured once by `Context::discover`) makes the process abort
//! at that point, the way a power cut or `kill -9` would stop it, so crash tests can prove
//! that every durable-write point leaves a state `fsck --repair` can restore.

#[cfg(feature = "fault-injection")]
static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Arms the failpoint named by the captured `GODZILLA_FAULT` value, if any.
pub fn arm(_value: Option<&str>) {
    #[cfg(feature = "fault-injection")]
    {
        // A second call (tests constructing several contexts) keeps the first value.
        let _ignored = ARMED.set(_value.map(str::to_owned));
    }
}

/// Whether the failpoint `name` is armed.
pub fn is_armed(_name: &str) -> bool {
    #[cfg(feature = "fault-injection")]
    {
        ARMED.get().and_then(|v| v.as_deref()) == Some(_name)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        false
    }
}

/// Aborts the process if the failpoint `name` is armed.
#[inline]
pub fn point(name: &str) {
    if is_armed(name) {
        std::process::abort();
    }
}
