//! Requests and raw runs for adapter unit tests.

use std::time::Duration;

use super::{EngineRequest, Phase, RawRun};

/// A request with the given prompt and phase, and neutral everything else.
pub(crate) fn request(prompt: &str, phase: Phase) -> EngineRequest {
    EngineRequest {
        label: "l".into(),
        prompt: prompt.into(),
        workdir: "/w".into(),
        model: None,
        phase,
        output_schema: None,
        timeout: Duration::from_secs(60),
        stall_timeout: Duration::from_secs(30),
        scratch_dir: "/s".into(),
        env: Default::default(),
        group_lock: None,
    }
}

/// A finished run with this output and exit code.
pub(crate) fn raw(stdout: &str, stderr: &str, code: i32) -> RawRun {
    RawRun {
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
        exit_code: Some(code),
        ..RawRun::default()
    }
}
