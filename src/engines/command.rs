//! The `command` adapter: any CLI, driven by the argv template in its profile.
//!
//! ```toml
//! [engines.aider]
//! kind = "command"
//! command = "aider"
//! args = ["--yes-always", "--no-auto-commits", "--model", "{model}", "--message-file", "{prompt_file}"]
//! env = ["OPENAI_API_KEY"]
//! ```
//!
//! Placeholders: `{prompt_file}` (the prompt written to the scratch dir; without it the prompt
//! goes to stdin), `{workdir}`, `{model}`, `{schema_file}`, `{scratch_dir}`. A whole argument
//! `{model}` or `{schema_file}` with no value is dropped together with the option before it,
//! so one template serves runs with and without a model. Output is read by [`CommandParse`]:
//! the final message is stdout, and because some CLIs exit 0 on an API 401 (aider), the output
//! is scanned for unmistakable auth and quota errors even on success.
//!
//! This module only builds argv and reads output; it never runs anything itself.

use std::sync::LazyLock;

use regex::Regex;

use super::{
    Adapter, BuildContext, EngineKind, EngineOutcome, EngineRequest, Error, Invocation, ProbeCheck,
    RawRun, classify_known, extract_json,
};
use crate::engines::Classification;

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "{prompt_file}",
    "{workdir}",
    "{model}",
    "{schema_file}",
    "{scratch_dir}",
];

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("built-in pattern {pattern}: {e}"))
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| re(r"\{[a-z_]+\}"));

/// How the output of a `command` engine is read.
#[derive(Clone, Debug)]
pub struct CommandParse {
    /// Matches an authentication failure even when the exit code is 0.
    pub auth: Regex,
    /// Matches a quota or rate-limit failure even when the exit code is 0.
    pub rate_limit: Regex,
    /// Token usage lines; groups `sent` and `received` (aider's `Tokens: 1.2k sent, 22
    /// received.`), summed over every match.
    pub usage: Regex,
    /// Cost lines; group `cost` in USD (aider's `Cost: $0.01 message`), summed.
    pub cost: Regex,
}

impl Default for CommandParse {
    fn default() -> Self {
        Self {
            // Deliberately narrow: an agent's final message, or its tests' output, may well
            // talk about "401", "429" or quotas; only the wording of real client errors
            // (litellm's exception names, the providers' own messages) counts.
            auth: re(
                r"AuthenticationError|(?i:incorrect api key provided|api key not valid|invalid x-api-key)",
            ),
            rate_limit: re(r"RateLimitError|(?i:exceeded your current quota|insufficient_quota)"),
            usage: re(
                r"Tokens: (?P<sent>[\d.,]+k?) sent(?:, [\d.,]+k? cache \w+)*, (?P<received>[\d.,]+k?) received",
            ),
            cost: re(r"Cost: \$(?P<cost>[\d.]+) message"),
        }
    }
}

/// The `command` adapter.
#[derive(Clone, Debug, Default)]
pub struct Command {
    /// Output rules.
    pub parse: CommandParse,
}

impl Adapter for Command {
    fn kind(&self) -> EngineKind {
        EngineKind::Command
    }

    fn default_program(&self) -> &str {
        // A command profile without `command` is rejected by the registry.
        ""
    }

    fn install_hint(&self) -> &str {
        "check `command` in the engine's `[engines.NAME]` profile"
    }

    fn env_keys(&self) -> &[&'static str] {
        &[]
    }

    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error> {
        let prompt_file = req.scratch_dir.join("prompt.md");
        let schema_file = req.scratch_dir.join("schema.json");
        let template = ctx.extra_args;
        let uses = |p: &str| template.iter().any(|a| a.contains(p));
        let mut files = Vec::new();
        // The scratch directory exists once a file is written there; named alone, it is made.
        if uses("{scratch_dir}") {
            super::create_run_dir(&req.scratch_dir)?;
        }
        if uses("{prompt_file}") {
            files.push((prompt_file.clone(), req.prompt.as_bytes().to_vec()));
        }
        if let Some(schema) = req.output_schema.as_ref().filter(|_| uses("{schema_file}")) {
            files.push((
                schema_file.clone(),
                serde_json::to_vec_pretty(schema).unwrap_or_default(),
            ));
        }
        let value = |name: &str| -> Option<String> {
            match name {
                "{prompt_file}" => Some(prompt_file.to_string_lossy().into_owned()),
                "{workdir}" => Some(req.workdir.to_string_lossy().into_owned()),
                "{scratch_dir}" => Some(req.scratch_dir.to_string_lossy().into_owned()),
                "{model}" => ctx.model.map(str::to_owned),
                "{schema_file}" => req
                    .output_schema
                    .as_ref()
                    .map(|_| schema_file.to_string_lossy().into_owned()),
                _ => None,
            }
        };
        let mut args: Vec<String> = Vec::new();
        for arg in template {
            let mut filled = String::new();
            let mut last = 0;
            let mut dropped = false;
            for m in PLACEHOLDER.find_iter(arg) {
                let name = m.as_str();
                if !PLACEHOLDERS.contains(&name) {
                    return Err(Error::Template {
                        name: ctx.name.to_owned(),
                        arg: arg.clone(),
                        reason: format!(
                            "unknown placeholder {name} (known: {})",
                            PLACEHOLDERS.join(", ")
                        ),
                    });
                }
                match value(name) {
                    Some(v) => {
                        filled.push_str(&arg[last..m.start()]);
                        filled.push_str(&v);
                        last = m.end();
                    }
                    None if arg == name => dropped = true,
                    None => {
                        return Err(Error::Template {
                            name: ctx.name.to_owned(),
                            arg: arg.clone(),
                            reason: format!("{name} has no value for this run"),
                        });
                    }
                }
            }
            if dropped {
                if args.last().is_some_and(|a| a.starts_with('-')) {
                    args.pop();
                }
                continue;
            }
            filled.push_str(&arg[last..]);
            args.push(filled);
        }
        Ok(Invocation {
            args,
            env: Default::default(),
            stdin: (!uses("{prompt_file}")).then(|| req.prompt.as_bytes().to_vec()),
            files,
            collect: Vec::new(),
            cwd: req.workdir.clone(),
        })
    }

    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome {
        let mut out = EngineOutcome::from_raw(raw);
        let stdout = raw.stdout_text();
        let stderr = raw.stderr_text();
        let message = stdout.trim();
        out.final_message = (!message.is_empty()).then(|| message.to_owned());
        for caps in self.parse.usage.captures_iter(&stdout) {
            out.usage.input += count(&caps["sent"]);
            out.usage.output += count(&caps["received"]);
        }
        let cost: f64 = self
            .parse
            .cost
            .captures_iter(&stdout)
            .filter_map(|c| c["cost"].parse::<f64>().ok())
            .sum();
        out.cost_usd = (cost > 0.0).then_some(cost);
        let combined = format!("{stderr}\n{stdout}");
        if let Some(m) = self.parse.rate_limit.find(&combined) {
            out.fail(Classification::RateLimit, line_of(&combined, m.start()));
        } else if let Some(m) = self.parse.auth.find(&combined) {
            out.fail(Classification::Auth, line_of(&combined, m.start()));
        } else if raw.exit_code != Some(0) && raw.signal.is_none() && raw.killed.is_none() {
            let tail = raw.stderr_tail(5);
            let tail = if tail.is_empty() {
                last_lines(&stdout, 5)
            } else {
                tail
            };
            out.fail(
                classify_known(EngineKind::Command, &tail),
                format!("exited with code {}: {tail}", raw.exit_code.unwrap_or(-1)),
            );
        }
        if out.classification != Classification::Ok {
            out.final_message = None;
        }
        if req.output_schema.is_some() {
            out.structured = out.final_message.as_deref().and_then(extract_json);
        }
        out
    }

    fn probe_checks(&self) -> Vec<ProbeCheck> {
        // Nothing is known about an arbitrary CLI's flags.
        Vec::new()
    }
}

/// `1,234` → 1234, `1.2k` → 1200.
fn count(text: &str) -> u64 {
    let text = text.replace(',', "");
    match text.strip_suffix('k') {
        Some(k) => k.parse::<f64>().map_or(0, |v| (v * 1000.0).round() as u64),
        None => text.parse::<f64>().map_or(0, |v| v as u64),
    }
}

fn line_of(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].trim().to_owned()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::Phase;
    use super::*;

    fn request() -> EngineRequest {
        super::super::testing::request("prompt text", Phase::Exec)
    }

    fn build(template: &[&str], model: Option<&str>) -> Result<Invocation, Error> {
        let template: Vec<String> = template.iter().map(|s| (*s).to_owned()).collect();
        Command::default().build(
            &request(),
            &BuildContext {
                name: "aider",
                model,
                extra_args: &template,
            },
        )
    }

    fn raw(stdout: &str, stderr: &str, code: i32) -> RawRun {
        super::super::testing::raw(stdout, stderr, code)
    }

    #[test]
    fn test_command_template_prompt_file() {
        let inv = build(
            &[
                "--yes-always",
                "--model",
                "{model}",
                "--message-file",
                "{prompt_file}",
                "--cwd={workdir}",
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            inv.args,
            ["--yes-always", "--message-file", "/s/prompt.md", "--cwd=/w"]
        );
        assert!(inv.stdin.is_none());
        assert_eq!(
            inv.files,
            vec![("/s/prompt.md".into(), b"prompt text".to_vec())]
        );
        let inv = build(&["--model", "{model}"], Some("gpt")).unwrap();
        assert_eq!(inv.args, ["--model", "gpt"]);
        assert_eq!(inv.stdin.as_deref(), Some(&b"prompt text"[..]));
    }

    #[test]
    fn test_command_template_errors() {
        assert!(matches!(
            build(&["{prompt}"], None),
            Err(Error::Template { .. })
        ));
        assert!(matches!(
            build(&["--model={model}"], None),
            Err(Error::Template { .. })
        ));
        // Braces that are not placeholders pass through untouched.
        assert_eq!(build(&["{\"a\": 1}"], None).unwrap().args, ["{\"a\": 1}"]);
    }

    #[test]
    fn test_command_parse_success_with_aider_usage() {
        let out = Command::default().parse(
            &request(),
            &raw("Applied edit to a.txt\nTokens: 1.2k sent, 22 received. Cost: $0.01 message, $0.02 session.\n", "", 0),
        );
        assert_eq!(out.classification, Classification::Ok);
        assert_eq!(out.usage.input, 1200);
        assert_eq!(out.usage.output, 22);
        assert_eq!(out.cost_usd, Some(0.01));
        assert!(out.final_message.unwrap().starts_with("Applied edit"));
    }

    #[test]
    fn test_command_parse_aider_401_with_exit_zero() {
        let out = Command::default().parse(
            &request(),
            &raw("litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided\n", "", 0),
        );
        assert_eq!(out.classification, Classification::Auth);
        assert!(out.final_message.is_none());
        let out = Command::default().parse(
            &request(),
            &raw(
                "",
                "litellm.RateLimitError: You exceeded your current quota",
                0,
            ),
        );
        assert_eq!(out.classification, Classification::RateLimit);
    }

    #[test]
    fn test_command_parse_nonzero_and_harmless_mentions() {
        let out = Command::default().parse(&request(), &raw("", "segfault", 2));
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("segfault"));
        let out = Command::default().parse(
            &request(),
            &raw(
                "Added handling of HTTP 401 and 429 responses to the client.",
                "",
                0,
            ),
        );
        assert_eq!(out.classification, Classification::Ok);
    }
}
