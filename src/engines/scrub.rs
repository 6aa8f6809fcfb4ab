//! Secret scrubbing for everything that leaves an engine run: error text, final messages,
//! argv, structured output and the raw transcript written to logs.
//!
//! A [`Scrubber`] redacts (1) the exact values of secret-looking environment variables, plus
//! their base64, hex and URL-encoded forms (GitHub Actions masks encodings too, because tools
//! echo them), and (2) well-known token shapes, gitleaks style. Redaction is best effort and
//! deliberately over-eager: a false positive costs a `[REDACTED]` in a log, a false negative
//! leaks a key into git history forever.
//!
//! This module only transforms text; it never decides what is persisted.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What every redacted span becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Secret values shorter than this are not scrubbed by value: short values ("1", "true",
/// "dev") would blank out ordinary words everywhere.
pub const MIN_SECRET_LEN: usize = 8;

/// Substrings of an environment variable name that mark its value as secret.
const SECRET_NAME_MARKERS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "AUTH",
    "CREDENTIAL",
    "PRIVATE",
    "COOKIE",
    "SESSION",
    "SIGNATURE",
];

/// Whether an environment variable with this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // `GIT_AUTHOR_NAME` contains AUTH; masking a person's name everywhere helps nobody.
    let upper = upper.replace("AUTHOR", "");
    SECRET_NAME_MARKERS.iter().any(|m| upper.contains(m))
}

/// Names whose values are no secret whatever else holds: the host basics every engine gets.
/// (`XDG_*` and `LC_*` are matched by prefix.)
const PLAIN_NAMES: &[&str] = &[
    "PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL", "PWD", "NO_COLOR",
];

/// Whether the value of `name` can be left in text even though an engine was given it: a
/// plain host variable, or a bare filesystem path (a path is where something is, not a
/// credential, and redacting it would blank the worktree's own paths out of every log). A
/// secret-looking name is never plain.
pub fn is_plain(name: &str, value: &str) -> bool {
    if is_secret_name(name) {
        return false;
    }
    let path_like = value.starts_with('/')
        && !value.contains("://")
        && !value.contains('@')
        && !value.chars().any(char::is_whitespace);
    // An endpoint (`base_url`, `OPENAI_BASE_URL`) is where a server is, like a path: with no
    // userinfo, no query (where keys travel) and only short path segments (a webhook URL hides
    // its token in a long one) there is nothing secret in it, and redacting it would hide which
    // server a run talked to.
    let bare_url = value.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https" | "ws" | "wss")
            && !rest.is_empty()
            && !rest.contains(['@', '?', '#'])
            && !rest.chars().any(char::is_whitespace)
            && rest.split('/').skip(1).all(|seg| seg.len() <= 16)
    });
    PLAIN_NAMES.contains(&name)
        || name.starts_with("LC_")
        || name.starts_with("XDG_")
        || path_like
        || bare_url
}

/// Whether a value looks like a secret whatever the name of its variable: a known token
/// shape, a URL carrying a password, or a long unbroken string mixing upper case, lower case
/// and several digits (how generated keys look; words, names and paths rarely do).
pub fn looks_like_secret(value: &str) -> bool {
    static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"://[^/@\s:]*:[^/@\s]+@").unwrap_or_else(|e| unreachable!("{e}"))
    });
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    let shaped = PATTERNS
        .iter()
        .any(|shape| shape.regex_for(&lower).is_some_and(|re| re.is_match(value)));
    if shaped || (lower.contains("://") && URL_PASSWORD.is_match(value)) {
        return true;
    }
    value.len() >= 20
        && !value.contains(['/', ' ', '.', ':'])
        && value.chars().any(|c| c.is_ascii_uppercase())
        && value.chars().any(|c| c.is_ascii_lowercase())
        && value.chars().filter(char::is_ascii_digit).count() >= 3
}

/// Token shapes redacted wherever they appear. Group 1, when present, is a prefix that is kept
/// (`Bearer `, `Authorization: `) so the redacted text still reads sensibly.
///
/// Each shape has needles, lower-case strings one of which every match contains; a shape's
/// regex is compiled the first time a text holds a needle, not for every process: compiling
/// all of them cost about 3 ms of each `step run` (#13), for text that mostly has none.
static PATTERNS: [Shape; 14] = [
    // PEM private keys, whole block.
    Shape::new(
        &["-----begin "],
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    ),
    // Header-ish assignments first, so the whole value goes, scheme included.
    Shape::new(
        &["authorization"],
        r#"(?i)(authorization"?\s*[:=]\s*"?)(?:(?:bearer|basic|token)\s+)?[^\s"',;}]+"#,
    ),
    Shape::new(
        &["x-api-key"],
        r#"(?i)(x-api-key"?\s*[:=]\s*"?)[^\s"',;}]+"#,
    ),
    Shape::new(&["bearer"], r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    // Anthropic before the generic OpenAI shape, which would also match it.
    Shape::new(&["sk-ant-"], r"\bsk-ant-[A-Za-z0-9_\-]{8,}"),
    Shape::new(&["sk-"], r"\bsk-[A-Za-z0-9_\-]{16,}"),
    Shape::new(
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    ),
    Shape::new(&["github_pat_"], r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    Shape::new(&["glpat-"], r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    Shape::new(
        &["xoxa-", "xoxb-", "xoxp-", "xoxr-"],
        r"\bxox[abpr]-[A-Za-z0-9\-]{10,}",
    ),
    Shape::new(&["akia", "asia"], r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    Shape::new(&["aiza"], r"\bAIza[0-9A-Za-z_\-]{35}"),
    // JSON Web Tokens: base64url of `{"…` for the header and the payload.
    Shape::new(
        &["eyj"],
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    ),
    // Userinfo of any URL (`postgres://user:pw@host`, `https://token@host`): everything
    // between `://` and an `@` that comes before the path.
    Shape::new(
        &["://"],
        r#"(?i)\b([a-z][a-z0-9+.\-]{1,30}://)[^\s/?#@"'<>\[\]{}]+@"#,
    ),
];

/// A token shape: its regex, compiled on first need, and the needles that gate it.
struct Shape {
    needles: &'static [&'static str],
    pattern: &'static str,
    re: std::sync::OnceLock<Regex>,
}

impl Shape {
    const fn new(needles: &'static [&'static str], pattern: &'static str) -> Self {
        Self {
            needles,
            pattern,
            re: std::sync::OnceLock::new(),
        }
    }

    /// The regex, when `lower` (the text in ASCII lower case) holds one of the needles.
    fn regex_for(&self, lower: &str) -> Option<&Regex> {
        self.needles.iter().any(|n| lower.contains(n)).then(|| {
            self.re.get_or_init(|| {
                Regex::new(self.pattern)
                    .unwrap_or_else(|e| unreachable!("built-in pattern {}: {e}", self.pattern))
            })
        })
    }
}

/// Redacts secrets from text. Cheap to clone; build one per engine run.
#[derive(Clone, Debug, Default)]
pub struct Scrubber {
    /// One alternation of every known secret value and its encodings, longest first so a
    /// value that contains another is redacted whole.
    literals: Option<Regex>,
}

impl Scrubber {
    /// A scrubber for the given secret values (plus the built-in token shapes). Values
    /// shorter than [`MIN_SECRET_LEN`] are ignored.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            forms.push(secret.to_owned());
            forms.push(base64(secret.as_bytes()));
            forms.push(base64(secret.as_bytes()).trim_end_matches('=').to_owned());
            forms.push(crate::digest::hex(secret.as_bytes()));
            forms.push(url_encode(secret));
        }
        forms.retain(|f| f.len() >= MIN_SECRET_LEN);
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        let literals = (!forms.is_empty()).then(|| {
            let alternation: Vec<String> = forms.iter().map(|f| regex::escape(f)).collect();
            Regex::new(&alternation.join("|"))
                .unwrap_or_else(|e| unreachable!("escaped literals always compile: {e}"))
        });
        Self { literals }
    }

    /// A scrubber for the secret-looking variables of an environment: every value whose name
    /// matches [`is_secret_name`].
    pub fn from_env<'a, I>(env: I) -> Self
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        Self::new(
            env.into_iter()
                .filter(|(k, _)| is_secret_name(k))
                .map(|(_, v)| v.as_str()),
        )
    }

    /// A scrubber for an engine: the secret-looking values of the host environment, plus
    /// the value of every variable the engine is given, whatever its name, unless it is
    /// [plain](is_plain). Built once per distinct set of values in a process and shared:
    /// engines run many times with the same environment.
    pub fn for_engine(
        host: &BTreeMap<String, String>,
        engine_env: &BTreeMap<String, String>,
    ) -> std::sync::Arc<Self> {
        Self::for_engine_with(host, engine_env, Vec::new())
    }

    /// [`Scrubber::for_engine`] plus `extra` values known to be secret (a profile's key or a
    /// literal value that looks like one).
    pub fn for_engine_with(
        host: &BTreeMap<String, String>,
        engine_env: &BTreeMap<String, String>,
        extra: Vec<String>,
    ) -> std::sync::Arc<Self> {
        let values: std::collections::BTreeSet<String> = host
            .iter()
            .filter(|(k, _)| is_secret_name(k))
            .chain(engine_env.iter().filter(|(k, v)| !is_plain(k, v)))
            .map(|(_, v)| v.clone())
            .chain(extra)
            .filter(|v| v.chars().count() >= MIN_SECRET_LEN)
            .collect();
        Self::cached(values)
    }

    /// The scrubber for exactly these secret values, from a process-wide cache: the literal
    /// alternation of every value and encoding is compiled once, not once per run.
    pub fn cached(values: std::collections::BTreeSet<String>) -> std::sync::Arc<Self> {
        type Cache = Vec<(std::collections::BTreeSet<String>, std::sync::Arc<Scrubber>)>;
        static CACHE: std::sync::Mutex<Cache> = std::sync::Mutex::new(Vec::new());
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, scrubber)) = cache.iter().find(|(v, _)| *v == values) {
            return std::sync::Arc::clone(scrubber);
        }
        let scrubber = std::sync::Arc::new(Self::new(&values));
        // A process sees a handful of environments; the bound only guards against growth.
        if cache.len() >= 16 {
            cache.remove(0);
        }
        cache.push((values, std::sync::Arc::clone(&scrubber)));
        scrubber
    }

    /// A scrubber for the secret-looking values of several environments at once.
    pub fn from_envs(envs: &[&BTreeMap<String, String>]) -> Self {
        Self::from_env(envs.iter().flat_map(|e| e.iter()))
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = match &self.literals {
            Some(re) => re.replace_all(text, REDACTED).into_owned(),
            None => text.to_owned(),
        };
        // Redaction only removes needles, so the original text's lower case gates them all.
        let lower = out.to_ascii_lowercase();
        for re in PATTERNS.iter().filter_map(|shape| shape.regex_for(&lower)) {
            if re.is_match(&out) {
                out = re
                    .replace_all(&out, |caps: &Captures<'_>| {
                        let keep = caps.get(1).map_or("", |m| m.as_str());
                        // A URL's userinfo keeps the `@` so the host still reads as one.
                        let at = if caps[0].ends_with('@') { "@" } else { "" };
                        format!("{keep}{REDACTED}{at}")
                    })
                    .into_owned();
            }
        }
        out
    }

    /// Raw bytes (a transcript) as scrubbed text; invalid UTF-8 becomes U+FFFD first, so a
    /// secret split by garbage bytes is still matched on either side.
    pub fn scrub_bytes(&self, bytes: &[u8]) -> String {
        self.scrub(&String::from_utf8_lossy(bytes))
    }

    /// Scrubs every string inside a JSON value (keys included).
    pub fn scrub_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.scrub(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.scrub_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.scrub(k), self.scrub_json(v)))
                    .collect(),
            ),
            Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn url_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut s, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_gated_by_lower_case_needles_its_samples_contain() {
        // A needle with upper case would never be found in the lower-cased text, and its
        // shape would silently stop redacting.
        for shape in &PATTERNS {
            for needle in shape.needles {
                assert_eq!(*needle, needle.to_ascii_lowercase(), "{}", shape.pattern);
            }
        }
        let samples = [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            "Authorization: Bearer abcdefgh12345678",
            "X-Api-Key: abcdefgh12345678",
            "BEARER abcdefgh12345678",
            "sk-ant-abcdefgh12345678",
            "sk-abcdefgh1234567890",
            "ghs_abcdefghij1234567890",
            "github_pat_abcdefghij1234567890",
            "glpat-abcdefghij1234567890",
            "xoxb-abcdefghij12",
            "ASIAABCDEFGHIJKLMNOP",
            "AIzaabcdefghijklmnopqrstuvwxyz012345678",
            "eyJabcdefghij.eyJabcdefghij.sig",
            "postgres://user:pw@db/app",
        ];
        assert_eq!(samples.len(), PATTERNS.len(), "one sample per shape");
        for (shape, sample) in PATTERNS.iter().zip(samples) {
            let re = shape.regex_for(&sample.to_ascii_lowercase());
            assert!(re.is_some_and(|re| re.is_match(sample)), "{sample}");
            assert!(
                Scrubber::default().scrub(sample).contains(REDACTED),
                "{sample}"
            );
        }
    }

    #[test]
    fn test_scrub_endpoints_are_plain_unless_they_can_carry_a_secret() {
        for plain in [
            "http://127.0.0.1:4000",
            "https://api.example.com/v1",
            "http://h:1/gemini",
        ] {
            assert!(is_plain("OPENAI_BASE_URL", plain), "{plain}");
        }
        for secret in [
            "https://u:p@db.example/app",
            "https://api.example.com/v1?key=abcdef",
            "https://hooks.example.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "postgres://user:pw@db/app",
        ] {
            assert!(!is_plain("WEBHOOK", secret), "{secret}");
        }
    }

    #[test]
    fn test_scrub_looks_like_secret() {
        for secret in [
            "sk-proj-0123456789abcdefABCDEF",
            "https://bob:hunter2@proxy.example:8080",
            "AbCdEf0123456789XyZwVu",
            "ghp_0123456789abcdefghijABCDEFGHIJ",
        ] {
            assert!(looks_like_secret(secret), "{secret}");
        }
        for plain in [
            "http://127.0.0.1:11434/v1",
            "1",
            "/home/user/.config",
            "mock-model",
            "OpenAICompatibleProvider2",
        ] {
            assert!(!looks_like_secret(plain), "{plain}");
        }
    }

    #[test]
    fn test_scrub_env_values_and_encodings() {
        let mut env = BTreeMap::new();
        env.insert("MY_API_KEY".to_owned(), "hunter2-very-secret".to_owned());
        env.insert("DB_PASSWORD".to_owned(), "p@ss w/rd!x".to_owned());
        env.insert("SHORT_TOKEN".to_owned(), "abc".to_owned());
        env.insert("PATH".to_owned(), "/usr/bin:/bin".to_owned());
        let s = Scrubber::from_env(&env);
        let text = "key=hunter2-very-secret b64=aHVudGVyMi12ZXJ5LXNlY3JldA== \
                    url=p%40ss%20w%2Frd%21x raw=p@ss w/rd!x short=abc path=/usr/bin:/bin";
        let out = s.scrub(text);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains("aHVudGVy"), "{out}");
        assert!(!out.contains("p%40ss"), "{out}");
        assert!(!out.contains("p@ss"), "{out}");
        assert!(out.contains("short=abc"), "{out}");
        assert!(out.contains("/usr/bin:/bin"), "{out}");
        assert_eq!(
            base64(b"hunter2-very-secret"),
            "aHVudGVyMi12ZXJ5LXNlY3JldA=="
        );
        assert_eq!(crate::digest::hex(b"ab"), "6162");
    }

    #[test]
    fn test_scrub_known_token_shapes() {
        let s = Scrubber::default();
        let cases = [
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
            "ghp_0123456789abcdefghijABCDEFGHIJ",
            "github_pat_11ABCDEFG0123456789_abcdefghij",
            "glpat-abcdefghij0123456789",
            "xoxb-1234567890-abcdefghij",
            "AKIAIOSFODNN7EXAMPLE",
            "AIzaSyA-0123456789abcdefghijklmnopqrstu",
        ];
        for secret in cases {
            let out = s.scrub(&format!("before {secret} after"));
            assert_eq!(out, format!("before {REDACTED} after"), "{secret}");
        }
    }

    #[test]
    fn test_scrub_headers_keep_their_names() {
        let s = Scrubber::default();
        assert_eq!(
            s.scrub("Authorization: Bearer abc.def-ghi_jkl"),
            format!("Authorization: {REDACTED}")
        );
        assert_eq!(
            s.scrub(r#"{"authorization":"Basic dXNlcjpwYXNz"}"#),
            format!(r#"{{"authorization":"{REDACTED}"}}"#)
        );
        assert_eq!(
            s.scrub("curl -H 'bearer 0123456789abcdef'"),
            format!("curl -H 'bearer {REDACTED}'")
        );
        assert_eq!(
            s.scrub("x-api-key: foo-bar-baz-qux"),
            format!("x-api-key: {REDACTED}")
        );
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\nabc\n-----END RSA PRIVATE KEY-----";
        assert_eq!(s.scrub(pem), REDACTED);
    }

    #[test]
    fn test_scrub_leaves_ordinary_text_alone() {
        let s = Scrubber::new(["correct-horse-battery"]);
        let text = "Implemented HTTP 401 handling in src/auth.rs; tokens: 1200 in, 340 out.";
        assert_eq!(s.scrub(text), text);
    }

    #[test]
    fn test_scrub_longest_value_wins() {
        let s = Scrubber::new(["abcdefgh", "abcdefgh-ijklmnop"]);
        assert_eq!(s.scrub("x abcdefgh-ijklmnop y"), format!("x {REDACTED} y"));
    }

    #[test]
    fn test_scrub_json_and_bytes() {
        let s = Scrubber::new(["sekrit-value-42"]);
        let v = serde_json::json!({"a": ["sekrit-value-42", 1], "sekrit-value-42": null});
        let out = s.scrub_json(&v).to_string();
        assert!(!out.contains("sekrit"), "{out}");
        let mut bytes = b"pre sekrit-value-42 ".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        assert!(!s.scrub_bytes(&bytes).contains("sekrit"));
    }

    #[test]
    fn test_scrub_url_userinfo_and_jwt() {
        let s = Scrubber::default();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        for (text, want) in [
            (
                "DATABASE_URL=postgres://user:pw@db.internal:5432/app".to_owned(),
                format!("DATABASE_URL=postgres://{REDACTED}@db.internal:5432/app"),
            ),
            (
                "remote https://u:p@git.example.com/r.git".to_owned(),
                format!("remote https://{REDACTED}@git.example.com/r.git"),
            ),
            (
                "clone https://x-token-abc@github.com/o/r".to_owned(),
                format!("clone https://{REDACTED}@github.com/o/r"),
            ),
            (format!("token {jwt} end"), format!("token {REDACTED} end")),
        ] {
            assert_eq!(s.scrub(&text), want);
        }
        // URLs without userinfo, and addresses later in the path, are left alone.
        for text in [
            "see https://example.com/a?mail=someone@example.com",
            "git@github.com:org/repo.git",
            "mail me at dev@example.com",
        ] {
            assert_eq!(s.scrub(text), text);
        }
    }

    #[test]
    fn test_scrub_every_engine_variable_whatever_its_name() {
        let host = BTreeMap::from([
            ("MY_TOKEN".to_owned(), "host-token-value-1".to_owned()),
            ("UNRELATED".to_owned(), "not-given-to-the-engine".to_owned()),
        ]);
        let engine = BTreeMap::from([
            (
                "DATABASE_URL".to_owned(),
                "mysql-host-with-pw-xyz".to_owned(),
            ),
            (
                "PLAIN_NAMED".to_owned(),
                "ordinary-looking-credential".to_owned(),
            ),
            ("HOME".to_owned(), "/home/someone".to_owned()),
            ("CODEX_HOME".to_owned(), "/tmp/isolated/.codex".to_owned()),
            ("LANG".to_owned(), "en_US.UTF-8".to_owned()),
        ]);
        let s = Scrubber::for_engine(&host, &engine);
        let out = s.scrub(
            "host-token-value-1 mysql-host-with-pw-xyz ordinary-looking-credential \
             /home/someone /tmp/isolated/.codex en_US.UTF-8 not-given-to-the-engine",
        );
        assert_eq!(
            out,
            format!(
                "{REDACTED} {REDACTED} {REDACTED} /home/someone /tmp/isolated/.codex \
                 en_US.UTF-8 not-given-to-the-engine"
            )
        );
        // Built once: the same values give the same compiled scrubber.
        assert!(std::sync::Arc::ptr_eq(
            &s,
            &Scrubber::for_engine(&host, &engine)
        ));
    }

    #[test]
    fn test_scrub_secret_names() {
        for name in [
            "OPENAI_API_KEY",
            "GH_TOKEN",
            "aws_secret_access_key",
            "DB_PASSWORD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TERM", "GIT_AUTHOR_NAME"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
