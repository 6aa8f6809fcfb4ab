//! How an engine run failed, read from what the engine reported: auth, quota, or another
//! engine error.

use super::{Classification, EngineKind};

impl Classification {
    /// The name used in records and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::EngineError => "engine_error",
            Self::Auth => "auth",
            Self::RateLimit => "rate_limit",
            Self::Timeout => "timeout",
            Self::NotInstalled => "not_installed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// Classification for an HTTP status an engine reported.
pub fn classify_status(status: u64) -> Classification {
    match status {
        401 | 403 | 407 => Classification::Auth,
        402 | 429 => Classification::RateLimit,
        _ => Classification::EngineError,
    }
}

/// Classification of an error message the engine reported as an error (a structured error
/// field: codex's `turn.failed`, claude's `result` with `is_error`, opencode's `error`,
/// gemini's `error.message`): auth and quota failures are recognised by their usual wording,
/// anything else is an engine error. Never call it on free output (a stderr tail, a final
/// message): an agent's own test output saying "403" or "quota" is not the engine's failure;
/// use [`classify_known`] there.
pub fn classify_text(text: &str) -> Classification {
    static AUTH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\b401\b|\b403\b|unauthori[sz]ed|authentication|invalid[ _-]?api[ _-]?key|incorrect api key|invalid x-api-key|api key not valid|forbidden|not logged in|please (log ?in|run /login)|invalid auth",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    static QUOTA: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\b429\b|rate[ _-]?limit|too many requests|quota|resource[ _-]?exhausted|insufficient[ _-]?quota|usage limit|overloaded|credit balance",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    if QUOTA.is_match(text) {
        Classification::RateLimit
    } else if AUTH.is_match(text) {
        Classification::Auth
    } else {
        Classification::EngineError
    }
}

/// Classification of free output of an engine of `kind` (its stderr tail when it printed no
/// structured result) from the message shapes that engine's own failures have, and nothing
/// else: a word such as `403`, `forbidden` or `quota` anywhere in the output (an agent's test
/// run prints such things) proves nothing. `EngineError` when no known shape matches.
pub fn classify_known(kind: EngineKind, text: &str) -> Classification {
    use std::sync::LazyLock;
    fn re(p: &str) -> regex::Regex {
        regex::Regex::new(p).unwrap_or_else(|e| unreachable!("built-in pattern {p}: {e}"))
    }
    // An HTTP status in the phrasing the engines' HTTP clients use for a failed request.
    static STATUS: LazyLock<regex::Regex> = LazyLock::new(|| {
        re(
            r"(?i)(?:unexpected status|api error:|apierror:?|status code:?|statusCode\W{1,3}|http status:?|got status:?)\s*(\d{3})\b",
        )
    });
    static AUTH: LazyLock<regex::Regex> = LazyLock::new(|| {
        re(concat!(
            // claude
            r"(?i)Invalid API key · Please run /login|Please run /login|OAuth token has expired|",
            r"authentication_error|Not logged in|",
            // codex
            r"Not signed in|Please (?:log ?in|sign in) with|Missing (?:environment variable|API key)|",
            // opencode
            r"ProviderAuthError|API key is missing|",
            // gemini
            r"API key not valid|Invalid auth method|When using Gemini API, you must specify|",
            // litellm / aider (command)
            r"AuthenticationError|Incorrect API key provided|invalid x-api-key"
        ))
    });
    static QUOTA: LazyLock<regex::Regex> = LazyLock::new(|| {
        re(concat!(
            r"(?i)rate_limit_error|RateLimitError|insufficient_quota|exceeded your current quota|",
            r"RESOURCE_EXHAUSTED|Resource has been exhausted|usage limit reached|",
            r"credit balance is too low"
        ))
    });
    let shapes_of_kind = matches!(
        kind,
        EngineKind::Codex
            | EngineKind::Claude
            | EngineKind::Opencode
            | EngineKind::Gemini
            | EngineKind::Command
    );
    if !shapes_of_kind {
        return Classification::EngineError;
    }
    if QUOTA.is_match(text) {
        return Classification::RateLimit;
    }
    if AUTH.is_match(text) {
        return Classification::Auth;
    }
    STATUS
        .captures_iter(text)
        .filter_map(|c| c[1].parse::<u64>().ok())
        .map(classify_status)
        .find(|c| *c != Classification::EngineError)
        .unwrap_or(Classification::EngineError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_engines_classify_known_ignores_words_in_agent_output() {
        // An agent's own test run, printed on stderr before the engine failed.
        let tail = "test api::forbidden_returns_403 ... FAILED\n\
                    assertion failed: quota exceeded for user 7\n\
                    expected 403 Forbidden, got 401 Unauthorized\n\
                    Error: authentication middleware rejected the token (429 too many requests)";
        for kind in EngineKind::ALL {
            assert_eq!(
                classify_known(kind, tail),
                Classification::EngineError,
                "{kind}"
            );
        }
        let known = [
            (
                EngineKind::Claude,
                "Invalid API key · Please run /login",
                Classification::Auth,
            ),
            (
                EngineKind::Codex,
                "ERROR: unexpected status 401 Unauthorized: bad key",
                Classification::Auth,
            ),
            (
                EngineKind::Codex,
                "unexpected status 429 Too Many Requests",
                Classification::RateLimit,
            ),
            (
                EngineKind::Gemini,
                "[API Error: API key not valid. Please pass a valid API key.]",
                Classification::Auth,
            ),
            (
                EngineKind::Opencode,
                "AI_APICallError: statusCode: 403",
                Classification::Auth,
            ),
            (
                EngineKind::Command,
                "litellm.RateLimitError: You exceeded your current quota",
                Classification::RateLimit,
            ),
            (
                EngineKind::Codex,
                "unexpected status 500 Internal Server Error",
                Classification::EngineError,
            ),
        ];
        for (kind, text, want) in known {
            assert_eq!(classify_known(kind, text), want, "{kind}: {text}");
        }
    }
}
