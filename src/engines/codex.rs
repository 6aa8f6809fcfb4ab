//! The OpenAI Codex CLI adapter: `codex exec --json … -` with the prompt on stdin.
//!
//! Output is JSONL (`thread.started`, `item.completed`, `turn.completed`, `turn.failed`,
//! `error`); the final message also goes to `-o <scratch>/last-message.txt`. Codex never exits
//! when its server is unreachable (it prints "Reconnecting…" forever), so those lines do not
//! count as progress for the stall watchdog, and the runner's timeout ends the run.
//!
//! This module only builds argv and reads output; it never runs anything itself.

use super::{
    Adapter, BuildContext, Classification, Endpoint, EngineKind, EngineOutcome, EngineRequest,
    Error, Invocation, ProbeCheck, RawRun, Stream, Usage, classify_known, classify_text,
    extract_json, json_lines, num,
};

/// Name of the collected last-message file.
const LAST_MESSAGE: &str = "last-message.txt";

/// The codex adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Codex;

impl Adapter for Codex {
    fn kind(&self) -> EngineKind {
        EngineKind::Codex
    }

    fn default_program(&self) -> &str {
        "codex"
    }

    fn install_hint(&self) -> &str {
        "install it with `npm install -g @openai/codex`, or set `command` in `[engines.codex]`"
    }

    fn env_keys(&self) -> &[&'static str] {
        &["OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME"]
    }

    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error> {
        let last_message = req.scratch_dir.join(LAST_MESSAGE);
        let mut args: Vec<String> = ["exec", "--json", "--skip-git-repo-check", "-C"]
            .map(String::from)
            .into();
        args.push(req.workdir.to_string_lossy().into_owned());
        if let Some(model) = ctx.model {
            args.extend(["-m".to_owned(), model.to_owned()]);
        }
        let sandbox = if req.phase.writes() {
            "workspace-write"
        } else {
            "read-only"
        };
        args.extend(["-s".to_owned(), sandbox.to_owned()]);
        args.extend(["-o".to_owned(), last_message.to_string_lossy().into_owned()]);
        // An empty last-message file up front: a stale one from an earlier attempt in the
        // same scratch dir must never pass for this run's answer.
        let mut files = vec![(last_message.clone(), Vec::new())];
        if let Some(schema) = &req.output_schema {
            let path = req.scratch_dir.join("schema.json");
            args.extend([
                "--output-schema".to_owned(),
                path.to_string_lossy().into_owned(),
            ]);
            files.push((path, serde_json::to_vec_pretty(schema).unwrap_or_default()));
        }
        args.extend(ctx.extra_args.iter().cloned());
        // `-` makes codex read the prompt from stdin; with no positional it would also, but
        // being explicit keeps a stray profile arg from becoming the prompt.
        args.push("-".to_owned());
        Ok(Invocation {
            args,
            env: Default::default(),
            stdin: Some(req.prompt.as_bytes().to_vec()),
            files,
            collect: vec![(LAST_MESSAGE.to_owned(), last_message)],
            cwd: req.workdir.clone(),
        })
    }

    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome {
        let mut out = EngineOutcome::from_raw(raw);
        let stdout = raw.stdout_text();
        let mut agent_message = None;
        let mut completed = false;
        let mut failed: Option<String> = None;
        let mut last_error: Option<String> = None;
        for ev in json_lines(&stdout) {
            match ev["type"].as_str().unwrap_or_default() {
                "thread.started" => {
                    out.session_id = ev["thread_id"].as_str().map(str::to_owned);
                }
                "item.completed" if ev["item"]["type"] == "agent_message" => {
                    agent_message = ev["item"]["text"].as_str().map(str::to_owned);
                }
                "turn.completed" => {
                    completed = true;
                    let u = &ev["usage"];
                    out.usage = add(
                        out.usage,
                        Usage {
                            input: num(&u["input_tokens"]),
                            cached: num(&u["cached_input_tokens"]),
                            output: num(&u["output_tokens"]),
                            reasoning: num(&u["reasoning_output_tokens"]),
                        },
                    );
                }
                "turn.failed" => {
                    failed = Some(
                        ev["error"]["message"]
                            .as_str()
                            .unwrap_or("turn failed")
                            .to_owned(),
                    );
                }
                "error" => last_error = ev["message"].as_str().map(str::to_owned),
                _ => {}
            }
        }
        let from_file = raw
            .collected
            .get(LAST_MESSAGE)
            .map(|b| String::from_utf8_lossy(b).trim_end().to_owned())
            .filter(|m| !m.is_empty());
        out.final_message = from_file.or(agent_message);
        if let Some(message) = failed {
            out.fail(classify_text(&message), message);
        } else if !completed {
            // An `error` event is codex's own report; its stderr is only matched against the
            // shapes of codex's own failures.
            let (class, message) = match last_error {
                Some(m) => (classify_text(&m), m),
                None => {
                    let tail = raw.stderr_tail(5);
                    let class = classify_known(EngineKind::Codex, &tail);
                    let message = Some(tail)
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "codex ended without a turn.completed event".to_owned());
                    (class, message)
                }
            };
            out.fail(class, message);
        }
        if req.output_schema.is_some() {
            out.structured = out.final_message.as_deref().and_then(extract_json);
        }
        if req.phase.writes()
            && let Some(refused) = all_edits_refused(&stdout)
        {
            out.fail(
                Classification::EngineError,
                format!(
                    "codex's sandbox refused every edit it tried: {}",
                    refused.join(", ")
                ),
            );
        }
        out
    }

    fn is_progress(&self, _stream: Stream, line: &str) -> bool {
        !line.contains("Reconnecting")
    }

    /// codex retries a refused request like a dropped connection ("Reconnecting... 1/5
    /// (unexpected status 401 Unauthorized: …)", with backoff): a refusal of the credentials is
    /// final at its first notice.
    fn fatal_line(&self, stream: Stream, line: &str) -> Option<(Classification, String)> {
        if stream != Stream::Stdout || !line.trim_start().starts_with('{') {
            return None;
        }
        let ev: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        if ev["type"] != "error" {
            return None;
        }
        let message = ev["message"].as_str()?;
        (classify_known(EngineKind::Codex, message) == Classification::Auth)
            .then(|| (Classification::Auth, message.to_owned()))
    }

    fn is_retry_loop(&self, _stream: Stream, line: &str) -> bool {
        // Printed every few seconds, forever, while nothing answers (request retries do not
        // bound it): the server is unreachable. (A 5xx is retried too, but a bounded number
        // of times: 30 calls in about 25 s.)
        line.contains("Reconnecting... waiting for network")
    }

    /// codex ignores `OPENAI_BASE_URL`, and its built-in provider first tries a websocket, so
    /// a base URL becomes a provider of its own declared with `-c` (Responses API, over plain
    /// HTTP + SSE); its `env_key` names the variable holding the key. Without a base URL the
    /// key goes where codex exec reads it.
    fn endpoint(
        &self,
        _req: &EngineRequest,
        endpoint: &Endpoint<'_>,
        inv: &mut Invocation,
    ) -> Result<(), Error> {
        let mut flags = Vec::new();
        if let Some(url) = endpoint.base_url {
            // JSON strings are valid TOML basic strings.
            let quote = |s: &str| serde_json::Value::from(s).to_string();
            let mut provider = format!(
                "{{name={},base_url={},wire_api=\"responses\"",
                quote("godzilla"),
                quote(url)
            );
            if let Some((var, key)) = endpoint.api_key {
                provider.push_str(&format!(",env_key={}", quote(var)));
                inv.env.insert(var.to_owned(), key.to_owned());
            }
            provider.push('}');
            flags = vec![
                "-c".to_owned(),
                "model_provider=\"godzilla\"".to_owned(),
                "-c".to_owned(),
                format!("model_providers.godzilla={provider}"),
            ];
        } else if let Some((_, key)) = endpoint.api_key {
            for var in ["CODEX_API_KEY", "OPENAI_API_KEY"] {
                inv.env.insert(var.to_owned(), key.to_owned());
            }
        }
        // Before the final `-` (the prompt on stdin), which must stay last.
        let at = inv.args.len().saturating_sub(1);
        inv.args.splice(at..at, flags);
        Ok(())
    }

    /// `codex login status`: exit 0 when logged in (it then shows part of the key), 1 and
    /// "Not logged in" otherwise. An `OPENAI_API_KEY` in the environment does not count.
    fn login_check(&self) -> Option<super::LoginCheck> {
        Some(super::LoginCheck {
            args: &["login", "status"],
            read: |code, _| match code {
                Some(0) => Some(true),
                Some(1) => Some(false),
                _ => None,
            },
        })
    }

    fn home_env(&self, home: &std::path::Path) -> Vec<(String, String)> {
        vec![(
            "CODEX_HOME".to_owned(),
            home.join(".codex").to_string_lossy().into_owned(),
        )]
    }

    fn probe_checks(&self) -> Vec<ProbeCheck> {
        vec![ProbeCheck {
            args: vec!["exec", "--help"],
            flags: vec![
                "--json",
                "--skip-git-repo-check",
                "--cd",
                "--model",
                "--sandbox",
                "--output-last-message",
                "--output-schema",
            ],
        }]
    }
}

fn add(a: Usage, b: Usage) -> Usage {
    Usage {
        input: a.input + b.input,
        cached: a.cached + b.cached,
        output: a.output + b.output,
        reasoning: a.reasoning + b.reasoning,
    }
}

/// What codex's sandbox says when it refuses a write (bubblewrap mounts what it protects, such
/// as `.git`, read-only; other writes outside the workspace are not permitted).
const SANDBOX_DENIALS: &[&str] = &["Read-only file system", "Operation not permitted"];

/// The paths codex's sandbox refused, when that is all that happened: some command failed on a
/// sandbox denial and no command or file change succeeded (so nothing can have been written).
/// codex reports a refusal only as a failed command whose output carries the denial; the path
/// is what precedes it (`/bin/bash: line 1: /w/.git/x: Read-only file system`, `touch: cannot
/// touch '/w/.git/x': Read-only file system`).
fn all_edits_refused(stdout: &str) -> Option<Vec<String>> {
    let mut refused = Vec::new();
    for ev in json_lines(stdout).filter(|ev| ev["type"] == "item.completed") {
        let item = &ev["item"];
        match item["type"].as_str().unwrap_or_default() {
            "command_execution" | "file_change" if item["status"] == "completed" => return None,
            "command_execution" => {
                let output = item["aggregated_output"].as_str().unwrap_or_default();
                for line in output.lines() {
                    let Some(denial) = SANDBOX_DENIALS.iter().find(|d| line.contains(*d)) else {
                        continue;
                    };
                    let before = line.split(denial).next().unwrap_or_default();
                    let before = before.trim_end().trim_end_matches(':');
                    let path = before.rsplit(": ").next().unwrap_or(before);
                    let path = path
                        .rsplit(' ')
                        .next()
                        .unwrap_or(path)
                        .trim_matches(['\'', '"']);
                    if !path.is_empty() && !refused.iter().any(|p| p == path) {
                        refused.push(path.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    (!refused.is_empty()).then_some(refused)
}

#[cfg(test)]
mod tests {
    use super::super::{Classification, Phase};
    use super::*;
    use std::time::Duration;

    pub(super) fn request(schema: bool) -> EngineRequest {
        EngineRequest {
            label: "0001-x/01-a/exec".into(),
            prompt: "do it".into(),
            workdir: "/w".into(),
            model: None,
            phase: Phase::Exec,
            output_schema: schema.then(|| serde_json::json!({"type": "object"})),
            timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            scratch_dir: "/s".into(),
            env: Default::default(),
            group_lock: None,
        }
    }

    fn raw(stdout: &str, stderr: &str, code: i32) -> RawRun {
        super::super::testing::raw(stdout, stderr, code)
    }

    const OK: &str = r#"{"type":"thread.started","thread_id":"0199-abc"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"bash -lc 'echo hi > a.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Done: wrote a.txt"}}
{"type":"turn.completed","usage":{"input_tokens":222,"cached_input_tokens":100,"cache_write_input_tokens":0,"output_tokens":30,"reasoning_output_tokens":7}}
"#;

    #[test]
    fn test_codex_build_argv_and_stdin() {
        let mut req = request(true);
        req.phase = Phase::Qa;
        let ctx = BuildContext {
            name: "codex",
            model: Some("gpt-5"),
            extra_args: &["-c".to_owned(), "model_provider=mock".to_owned()],
        };
        let inv = Codex.build(&req, &ctx).unwrap();
        assert_eq!(
            inv.args,
            [
                "exec",
                "--json",
                "--skip-git-repo-check",
                "-C",
                "/w",
                "-m",
                "gpt-5",
                "-s",
                "read-only",
                "-o",
                "/s/last-message.txt",
                "--output-schema",
                "/s/schema.json",
                "-c",
                "model_provider=mock",
                "-"
            ]
        );
        assert_eq!(inv.stdin.as_deref(), Some(&b"do it"[..]));
        assert!(!inv.args.iter().any(|a| a.contains("do it")));
        let exec = Codex
            .build(
                &request(false),
                &BuildContext {
                    name: "codex",
                    model: None,
                    extra_args: &[],
                },
            )
            .unwrap();
        assert!(exec.args.contains(&"workspace-write".to_owned()));
        assert!(!exec.args.contains(&"--output-schema".to_owned()));
    }

    #[test]
    fn test_codex_endpoint_declares_a_provider() {
        let ctx = BuildContext {
            name: "codex",
            model: Some("qwen3"),
            extra_args: &[],
        };
        let mut inv = Codex.build(&request(false), &ctx).unwrap();
        let endpoint = Endpoint {
            name: "codex",
            base_url: Some("http://127.0.0.1:11434/v1"),
            api_key: Some(("OLLAMA_KEY", "k-123456789")),
            model: Some("qwen3"),
        };
        Codex
            .endpoint(&request(false), &endpoint, &mut inv)
            .unwrap();
        let n = inv.args.len();
        assert_eq!(
            inv.args[n - 5..],
            [
                "-c",
                "model_provider=\"godzilla\"",
                "-c",
                r#"model_providers.godzilla={name="godzilla",base_url="http://127.0.0.1:11434/v1",wire_api="responses",env_key="OLLAMA_KEY"}"#,
                "-"
            ]
        );
        assert_eq!(inv.env["OLLAMA_KEY"], "k-123456789");
        // A key alone goes where codex exec looks for one.
        let mut inv = Codex.build(&request(false), &ctx).unwrap();
        let before = inv.args.clone();
        let endpoint = Endpoint {
            api_key: Some(("MY_OPENAI", "sk-x")),
            ..Endpoint::default()
        };
        Codex
            .endpoint(&request(false), &endpoint, &mut inv)
            .unwrap();
        assert_eq!(inv.args, before);
        assert_eq!(inv.env["CODEX_API_KEY"], "sk-x");
        assert_eq!(inv.env["OPENAI_API_KEY"], "sk-x");
    }

    #[test]
    fn test_codex_parse_success() {
        let out = Codex.parse(
            &request(false),
            &raw(OK, "Reading additional input from stdin...", 0),
        );
        assert_eq!(out.classification, Classification::Ok);
        assert_eq!(out.session_id.as_deref(), Some("0199-abc"));
        assert_eq!(out.final_message.as_deref(), Some("Done: wrote a.txt"));
        assert_eq!(
            out.usage,
            Usage {
                input: 222,
                cached: 100,
                output: 30,
                reasoning: 7
            }
        );
    }

    #[test]
    fn test_codex_parse_prefers_last_message_file_and_structured() {
        let mut r = raw(OK, "", 0);
        r.collected
            .insert(LAST_MESSAGE.into(), br#"{"steps": 2}"#.to_vec());
        let out = Codex.parse(&request(true), &r);
        assert_eq!(out.final_message.as_deref(), Some(r#"{"steps": 2}"#));
        assert_eq!(out.structured, Some(serde_json::json!({"steps": 2})));
    }

    #[test]
    fn test_codex_parse_401() {
        let text = r#"{"type":"thread.started","thread_id":"t1"}
{"type":"turn.started"}
{"type":"error","message":"unexpected status 401 Unauthorized: invalid api key"}
{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: invalid api key"}}
"#;
        let out = Codex.parse(&request(false), &raw(text, "", 1));
        assert_eq!(out.classification, Classification::Auth);
        assert!(out.error.unwrap().contains("401"));
    }

    #[test]
    fn test_codex_parse_500_and_rate_limit() {
        let text = r#"{"type":"turn.failed","error":{"message":"unexpected status 500 Internal Server Error"}}"#;
        let out = Codex.parse(&request(false), &raw(text, "", 1));
        assert_eq!(out.classification, Classification::EngineError);
        let text = r#"{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}"#;
        let out = Codex.parse(&request(false), &raw(text, "", 1));
        assert_eq!(out.classification, Classification::RateLimit);
    }

    #[test]
    fn test_codex_parse_garbage_and_empty() {
        let out = Codex.parse(
            &request(false),
            &raw("\u{fffd}{\"type\":\"turn.compl", "", 0),
        );
        assert_eq!(out.classification, Classification::EngineError);
        let out = Codex.parse(
            &request(false),
            &raw(
                "",
                "Error: config: wire_api = \"chat\" is no longer supported",
                1,
            ),
        );
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("wire_api"));
    }

    #[test]
    fn test_codex_reconnecting_is_not_progress() {
        assert!(!Codex.is_progress(
            Stream::Stdout,
            r#"{"type":"error","message":"Reconnecting... 2/5"}"#
        ));
        assert!(Codex.is_progress(Stream::Stdout, r#"{"type":"turn.started"}"#));
    }

    #[test]
    fn test_codex_refused_credentials_stop_the_run_at_the_first_notice() {
        let (class, message) = Codex
            .fatal_line(
                Stream::Stdout,
                r#"{"type":"error","message":"Reconnecting... 1/5 (unexpected status 401 Unauthorized: bad key, url: http://127.0.0.1:1/v1/responses)"}"#,
            )
            .expect("a 401 is final");
        assert_eq!(class, Classification::Auth);
        assert!(message.contains("401 Unauthorized"), "{message}");
        for not_final in [
            r#"{"type":"error","message":"Reconnecting... 1/5 (unexpected status 500 Internal Server Error)"}"#,
            r#"{"type":"error","message":"Reconnecting... 2/5 (unexpected status 429 Too Many Requests)"}"#,
            r#"{"type":"item.completed","item":{"type":"command_execution","aggregated_output":"expected 401 Unauthorized"}}"#,
        ] {
            assert_eq!(
                Codex.fatal_line(Stream::Stdout, not_final),
                None,
                "{not_final}"
            );
        }
        // An agent's own output on stderr is never the engine's report.
        assert_eq!(
            Codex.fatal_line(Stream::Stderr, "unexpected status 401 Unauthorized"),
            None
        );
    }

    #[test]
    fn test_codex_parse_every_edit_refused_is_an_engine_error() {
        // As codex 0.169 printed a write below .git under `-s workspace-write` (trimmed).
        let refused = r#"{"type":"thread.started","thread_id":"t-1"}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc \"printf %s 'x' > '/w/.git/refused.txt'\"","aggregated_output":"/bin/bash: line 1: /w/.git/refused.txt: Read-only file system\n","exit_code":1,"status":"failed"}}
{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"touch /w/.git/b","aggregated_output":"touch: cannot touch '/w/.git/b': Read-only file system\n","exit_code":1,"status":"failed"}}
{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}"#;
        let exec = super::super::testing::request("p", Phase::Exec);
        let out = Codex.parse(&exec, &super::super::testing::raw(refused, "", 0));
        assert_eq!(out.classification, Classification::EngineError);
        let error = out.error.unwrap();
        assert!(error.contains("/w/.git/refused.txt"), "{error}");
        assert!(error.contains("/w/.git/b"), "{error}");
        // A command that succeeded may have written: no longer "every edit refused".
        let partly = refused.replace(
            r#"{"type":"item.completed","item":{"id":"item_3""#,
            "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_9\",\"type\":\"command_execution\",\"command\":\"cat > a\",\"aggregated_output\":\"\",\"exit_code\":0,\"status\":\"completed\"}}\n{\"type\":\"item.completed\",\"item\":{\"id\":\"item_3\"",
        );
        let out = Codex.parse(&exec, &super::super::testing::raw(&partly, "", 0));
        assert_eq!(out.classification, Classification::Ok, "{:?}", out.error);
        // A failing test run is not a refusal, and review phases are read-only anyway.
        let failing = refused
            .replace("Read-only file system", "assertion failed")
            .replace("cannot touch", "test failed");
        let out = Codex.parse(&exec, &super::super::testing::raw(&failing, "", 0));
        assert_eq!(out.classification, Classification::Ok);
        let qa = super::super::testing::request("p", Phase::Qa);
        let out = Codex.parse(&qa, &super::super::testing::raw(refused, "", 0));
        assert_eq!(out.classification, Classification::Ok);
    }
}
