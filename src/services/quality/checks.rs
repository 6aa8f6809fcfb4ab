//! Mechanical checks: running the `[checks]` commands and reading their output.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use sha2::{Digest, Sha256};

use super::{CheckResult, TestCounts};
use crate::config::Config;
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::engines::Scrubber;
use crate::engines::runner::{self, RunSpec};
use crate::services::platform::storage::{self, Store};

/// Most failing test names kept per check.
const MAX_FAILING: usize = 20;
/// Most lines and bytes of a failing check's output kept in the report and retry prompt.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: usize = 4096;

/// Names of the failing tests an output names: cargo (`test x ... FAILED`), pytest
/// (`FAILED path::test`), go (`--- FAIL: TestX`) and jest/vitest (`● Suite › test`).
pub fn parse_failing_tests(output: &str) -> Vec<String> {
    static FAILING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?m)^(?:test (\S+) \.\.\. FAILED\s*$|FAILED (\S+)|\s*--- FAIL: (\S+)|\s*● (.+?)\s*$)",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let mut names: Vec<String> = Vec::new();
    for c in FAILING.captures_iter(output) {
        let Some(name) = (1..=4).find_map(|i| c.get(i)) else {
            continue;
        };
        let name = name.as_str().to_owned();
        if name != "Console" && !names.contains(&name) && names.len() < MAX_FAILING {
            names.push(name);
        }
    }
    names
}

/// The last lines of `output`, at most [`TAIL_LINES`] lines and about [`TAIL_BYTES`] bytes.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.trim_end().lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes = 0;
    for line in lines.iter().rev().take(TAIL_LINES) {
        bytes += line.len() + 1;
        if bytes > TAIL_BYTES && !kept.is_empty() {
            break;
        }
        kept.push(line);
    }
    kept.reverse();
    kept.join("\n")
}

/// Test counts from common runners' summaries (cargo, pytest, jest/vitest, go).
pub fn parse_test_counts(output: &str) -> Option<TestCounts> {
    static CARGO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"test result: \w+\. (\d+) passed; (\d+) failed")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    static PYTEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:(\d+) failed, )?(\d+) passed").unwrap_or_else(|e| unreachable!("{e}"))
    });
    static JEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"Tests:\s+(?:(\d+) failed, )?(\d+) passed")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let num =
        |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<u64>().ok()).unwrap_or(0);
    let mut total: Option<TestCounts> = None;
    for c in CARGO.captures_iter(output) {
        let t = total.get_or_insert_with(TestCounts::default);
        t.passed += num(c.get(1));
        t.failed += num(c.get(2));
    }
    if total.is_some() {
        return total;
    }
    if let Some(c) = JEST.captures_iter(output).last() {
        return Some(TestCounts {
            passed: num(c.get(2)),
            failed: num(c.get(1)),
        });
    }
    if let Some(c) = PYTEST.captures_iter(output).last() {
        return Some(TestCounts {
            passed: num(c.get(2)),
            failed: num(c.get(1)),
        });
    }
    // `go test -v` names every test; without -v only failures are listed.
    static GO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^\s*--- (PASS|FAIL): ").unwrap_or_else(|e| unreachable!("{e}"))
    });
    GO.captures_iter(output).fold(None, |total, c| {
        let mut t = total.unwrap_or_default();
        if &c[1] == "PASS" {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
        Some(t)
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run_check(
    ctx: &Context,
    store: &Store,
    config: &Config,
    scrubber: &Scrubber,
    protocol: &ProtocolId,
    run_id: &str,
    name: &str,
    argv: &[String],
) -> CheckResult {
    let log = store
        .local_dir()
        .join("logs")
        .join(protocol.as_str())
        .join(format!("{run_id}-{name}.log"));
    let mut result = CheckResult {
        name: name.to_owned(),
        argv: argv.to_vec(),
        exit_code: None,
        passed: false,
        timed_out: false,
        duration_ms: 0,
        tests: None,
        failing_tests: Vec::new(),
        output_tail: None,
        log_sha256: String::new(),
        log: log.clone(),
    };
    let Some((program, args)) = argv.split_first() else {
        return result;
    };
    let env: BTreeMap<String, String> = (*ctx.env.all).clone();
    let Some(resolved) =
        runner::resolve_program(program, env.get("PATH").map(String::as_str), store.root())
    else {
        let text = format!("`{program}` not found on PATH\n");
        result.log_sha256 = sha256(&text);
        storage::write_derived(&log, text.as_bytes()).ok();
        return result;
    };
    let mut spec = RunSpec::new(resolved, args.to_vec(), store.root());
    spec.env = env;
    spec.timeout = Duration::from_secs(config.qa.check_timeout_secs);
    spec.stall_timeout = Duration::ZERO;
    let raw = match runner::run(&spec, &mut |_, _| {}) {
        Ok(raw) => raw,
        Err(e) => {
            let text = format!("{e}\n");
            result.log_sha256 = sha256(&text);
            storage::write_derived(&log, text.as_bytes()).ok();
            return result;
        }
    };
    // Counts come from what the check printed, never from the argv echoed into the log.
    let own = scrubber.scrub(&format!("{}{}", raw.stdout_text(), raw.stderr_text()));
    let text = format!("$ {}\n{own}", scrubber.scrub(&argv.join(" ")));
    result.exit_code = raw.exit_code;
    result.timed_out = raw.killed.is_some();
    result.tests = parse_test_counts(&own);
    // A runner that reports failed tests has failed, whatever its exit code says.
    result.passed = raw.exit_code == Some(0)
        && raw.killed.is_none()
        && result.tests.is_none_or(|t| t.failed == 0);
    result.duration_ms = u64::try_from(raw.duration.as_millis()).unwrap_or(u64::MAX);
    if !result.passed {
        result.failing_tests = parse_failing_tests(&own);
        result.output_tail = Some(tail(&own));
    }
    result.log_sha256 = sha256(&text);
    // A lost log costs the evidence, not the verdict: the hash is in the event.
    storage::write_derived(&log, text.as_bytes()).ok();
    result
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a failed check failed, in one line.
pub(super) fn check_failure(name: &str, check: &CheckResult) -> String {
    match (check.timed_out, check.exit_code, check.tests) {
        (true, _, _) => format!("check `{name}` timed out"),
        (false, Some(0), Some(t)) => format!(
            "check `{name}` reported {} failed test{} though it exited 0",
            t.failed,
            if t.failed == 1 { "" } else { "s" }
        ),
        (false, Some(code), _) => format!("check `{name}` failed (exit {code})"),
        (false, None, _) => format!("check `{name}` could not run"),
    }
}
