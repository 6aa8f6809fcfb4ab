//! The OpenCode adapter: `opencode run --format json --dir <worktree>`.
//!
//! `opencode run` takes its message as positional words and its `--help` documents no stdin
//! input (only `-f/--file` attachments), so the prompt is written to `<scratch>/prompt.md` and
//! attached, and argv carries only a short fixed instruction. `-f` is a yargs array option that
//! swallows every word after it, so it goes last.
//!
//! This module only builds argv and reads output; it never runs anything itself.

use std::collections::BTreeMap;

use super::{
    Adapter, BuildContext, Classification, Endpoint, EngineKind, EngineOutcome, EngineRequest,
    Error, Invocation, ProbeCheck, RawRun, Stream, classify_known, classify_status, classify_text,
    extract_json, json_lines, num,
};

/// The fixed message sent in argv; the real prompt is the attached file.
pub const ARGV_MESSAGE: &str = "Follow the instructions in the attached file.";

/// `OPENCODE_PERMISSION` for read-only phases. opencode's `plan` agent denies edits but still
/// runs shell commands (a review ran `printf … > file` through it), so the tools that can
/// change the worktree are denied outright: opencode then does not even offer them to the
/// model. `task` would start a sub-agent with permissions of its own.
pub const READ_ONLY_PERMISSION: &str =
    r#"{"edit":"deny","bash":"deny","webfetch":"deny","task":"deny"}"#;

/// The opencode adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opencode;

impl Adapter for Opencode {
    fn kind(&self) -> EngineKind {
        EngineKind::Opencode
    }

    fn default_program(&self) -> &str {
        "opencode"
    }

    fn install_hint(&self) -> &str {
        "install it with `npm install -g opencode-ai`, or set `command` in `[engines.opencode]`"
    }

    fn env_keys(&self) -> &[&'static str] {
        &[
            "OPENCODE_CONFIG",
            "OPENCODE_CONFIG_CONTENT",
            "OPENCODE_PERMISSION",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "OPENROUTER_API_KEY",
        ]
    }

    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error> {
        let prompt_file = req.scratch_dir.join("prompt.md");
        let mut args: Vec<String> = vec![
            "run".into(),
            ARGV_MESSAGE.into(),
            "--format".into(),
            "json".into(),
            "--dir".into(),
            req.workdir.to_string_lossy().into_owned(),
            // opencode retries a failing model call silently on stdout (93 s for a 500 was
            // seen); its logs on stderr show each failed attempt, so the retry loop can be
            // recognised (see `is_retry_loop`), and they show it alive while it starts up.
            "--print-logs".into(),
        ];
        if let Some(model) = ctx.model {
            args.extend(["-m".to_owned(), model.to_owned()]);
        }
        if !req.phase.writes() {
            args.extend(["--agent".to_owned(), "plan".to_owned()]);
        }
        args.extend(ctx.extra_args.iter().cloned());
        args.extend(["-f".to_owned(), prompt_file.to_string_lossy().into_owned()]);
        let mut env = BTreeMap::from(
            [
                ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
                ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        if !req.phase.writes() {
            env.insert(
                "OPENCODE_PERMISSION".to_owned(),
                READ_ONLY_PERMISSION.to_owned(),
            );
        }
        Ok(Invocation {
            args,
            env,
            stdin: None,
            files: vec![(prompt_file, req.prompt.as_bytes().to_vec())],
            collect: Vec::new(),
            cwd: req.workdir.clone(),
        })
    }

    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome {
        let mut out = EngineOutcome::from_raw(raw);
        let stdout = raw.stdout_text();
        let mut text = None;
        let mut finished_steps = 0;
        let mut cost = None::<f64>;
        let mut error = None;
        for ev in json_lines(&stdout) {
            if let Some(id) = ev["sessionID"].as_str() {
                out.session_id = Some(id.to_owned());
            }
            let part = &ev["part"];
            match ev["type"].as_str().unwrap_or_default() {
                "text" => {
                    if let Some(t) = part["text"].as_str().filter(|t| !t.trim().is_empty()) {
                        text = Some(t.to_owned());
                    }
                }
                "step_finish" => {
                    finished_steps += 1;
                    let t = &part["tokens"];
                    let (read, write) = (num(&t["cache"]["read"]), num(&t["cache"]["write"]));
                    // opencode reports input net of cache; godzilla's input includes it.
                    out.usage.input += num(&t["input"]) + read + write;
                    out.usage.cached += read;
                    // godzilla's output includes reasoning; opencode reports it apart.
                    out.usage.output += num(&t["output"]) + num(&t["reasoning"]);
                    out.usage.reasoning += num(&t["reasoning"]);
                    if let Some(c) = part["cost"].as_f64() {
                        cost = Some(cost.unwrap_or(0.0) + c);
                    }
                }
                "error" => error = Some(ev["error"].clone()),
                _ => {}
            }
        }
        out.cost_usd = cost;
        out.final_message = text;
        if let Some(err) = error {
            let data = &err["data"];
            let message = data["message"]
                .as_str()
                .or(err["message"].as_str())
                .or(err["name"].as_str())
                .unwrap_or("opencode reported an error")
                .to_owned();
            let class = match data["statusCode"].as_u64() {
                Some(status) => classify_status(status),
                None => classify_text(&message),
            };
            out.fail(class, message);
        } else if finished_steps == 0 {
            let tail = raw.stderr_tail(5);
            let message = if tail.is_empty() {
                "opencode finished no step".to_owned()
            } else {
                tail
            };
            out.fail(classify_known(EngineKind::Opencode, &message), message);
        }
        if req.output_schema.is_some() {
            out.structured = out.final_message.as_deref().and_then(extract_json);
        }
        if req.phase.writes()
            && let Some(refused) = all_edits_refused(&stdout)
        {
            out.fail(
                super::Classification::EngineError,
                format!(
                    "opencode refused every edit it tried: {}",
                    refused.join(", ")
                ),
            );
        }
        out
    }

    /// A model call refused for its credentials, as opencode logs it on stderr. The first such
    /// refusal is usually the title call (`small=true`), made at once with the same provider and
    /// key while the agent's own call waits seconds for opencode's start-up to finish: the run
    /// cannot succeed, so it is stopped there.
    fn fatal_line(&self, stream: Stream, line: &str) -> Option<(Classification, String)> {
        if stream != Stream::Stderr
            || !line.contains("level=ERROR")
            || !line.contains("message=\"stream error\"")
        {
            return None;
        }
        let (_, rest) = line.split_once("error.error=\"")?;
        let message = rest.strip_suffix('"').unwrap_or(rest).replace("\\\"", "\"");
        (classify_text(&message) == Classification::Auth).then_some((Classification::Auth, message))
    }

    fn is_retry_loop(&self, stream: Stream, line: &str) -> bool {
        // A failed model call of the agent itself (`small=true` is the one-shot title call).
        stream == Stream::Stderr
            && line.contains("level=ERROR")
            && line.contains("message=\"stream error\"")
            && line.contains("small=false")
    }

    /// A base URL becomes an OpenAI-compatible provider `godzilla` in a config file in the
    /// scratch directory (`OPENCODE_CONFIG`; opencode merges it with the user's and the
    /// project's), and the model is taken from it (`-m godzilla/<model>`). A key alone is
    /// passed under its own name and under the variable of the model's provider.
    fn endpoint(
        &self,
        req: &EngineRequest,
        endpoint: &Endpoint<'_>,
        inv: &mut Invocation,
    ) -> Result<(), Error> {
        if let Some((var, key)) = endpoint.api_key {
            inv.env.insert(var.to_owned(), key.to_owned());
            let provider = endpoint
                .model
                .and_then(|m| m.split_once('/'))
                .map(|(p, _)| p);
            let standard = match provider {
                Some("anthropic") => Some("ANTHROPIC_API_KEY"),
                Some("openai") => Some("OPENAI_API_KEY"),
                Some("google") => Some("GOOGLE_GENERATIVE_AI_API_KEY"),
                Some("openrouter") => Some("OPENROUTER_API_KEY"),
                _ => None,
            };
            if let Some(standard) = standard.filter(|_| endpoint.base_url.is_none()) {
                inv.env.insert(standard.to_owned(), key.to_owned());
            }
        }
        let Some(url) = endpoint.base_url else {
            return Ok(());
        };
        let Some(model) = endpoint.model else {
            return Err(Error::NeedsModel {
                name: endpoint.name.to_owned(),
            });
        };
        let mut options = serde_json::json!({ "baseURL": url });
        if let Some((var, _)) = endpoint.api_key {
            options["apiKey"] = format!("{{env:{var}}}").into();
        }
        let config = serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": { "godzilla": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "godzilla",
                "options": options,
                "models": { model: { "name": model, "tool_call": true } },
            } },
            "model": format!("godzilla/{model}"),
        });
        let path = req.scratch_dir.join("opencode-provider.json");
        inv.files
            .push((path.clone(), config.to_string().into_bytes()));
        inv.env.insert(
            "OPENCODE_CONFIG".to_owned(),
            path.to_string_lossy().into_owned(),
        );
        let qualified = format!("godzilla/{model}");
        match inv.args.iter().position(|a| a == "-m") {
            Some(at) => inv.args[at + 1] = qualified,
            None => {
                // Before `-f FILE`, which must stay last.
                let at = inv.args.len().saturating_sub(2);
                inv.args.splice(at..at, ["-m".to_owned(), qualified]);
            }
        }
        Ok(())
    }

    /// `opencode auth list`: the stored credentials and the providers' key variables it
    /// sees, counted at the end of each of its two lists.
    fn login_check(&self) -> Option<super::LoginCheck> {
        Some(super::LoginCheck {
            args: &["auth", "list"],
            read: |code, stdout| {
                if code != Some(0) {
                    return None;
                }
                let counts: Vec<u64> = stdout
                    .lines()
                    .filter(|l| l.contains(" credential") || l.contains(" environment variable"))
                    .filter_map(|l| {
                        l.split_whitespace()
                            .rev()
                            .skip_while(|w| w.parse::<u64>().is_err())
                            .find_map(|w| w.parse::<u64>().ok())
                    })
                    .collect();
                (!counts.is_empty()).then(|| counts.iter().sum::<u64>() > 0)
            },
        })
    }

    fn probe_checks(&self) -> Vec<ProbeCheck> {
        vec![ProbeCheck {
            args: vec!["run", "--help"],
            flags: vec!["--format", "--dir", "--model", "--file", "--print-logs"],
        }]
    }
}

/// opencode's file-editing tools.
const EDIT_TOOLS: &[&str] = &["write", "edit", "patch", "apply_patch", "multiedit"];

/// The paths of refused edits when opencode refused at least one edit (a permission rule, or
/// a user-rejected ask) and carried none out; `None` otherwise.
fn all_edits_refused(stdout: &str) -> Option<Vec<String>> {
    static REFUSED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)rule which prevents|permission|rejected|denied")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let mut refused = Vec::new();
    for ev in json_lines(stdout) {
        let part = &ev["part"];
        if ev["type"] != "tool_use" || !EDIT_TOOLS.contains(&part["tool"].as_str().unwrap_or("")) {
            continue;
        }
        let state = &part["state"];
        match state["status"].as_str() {
            Some("completed") => return None,
            Some("error") if REFUSED.is_match(state["error"].as_str().unwrap_or_default()) => {
                let input = &state["input"];
                refused.push(
                    input["filePath"]
                        .as_str()
                        .or(input["path"].as_str())
                        .unwrap_or("a file")
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    (!refused.is_empty()).then_some(refused)
}

#[cfg(test)]
mod tests {
    use super::super::{Classification, Phase, Usage};
    use super::*;

    fn request() -> EngineRequest {
        EngineRequest {
            model: Some("mock/m".into()),
            ..super::super::testing::request("the real prompt", Phase::Exec)
        }
    }

    fn raw(stdout: &str, code: i32) -> RawRun {
        super::super::testing::raw(stdout, "", code)
    }

    #[test]
    fn test_opencode_build_puts_prompt_in_a_file() {
        let req = request();
        let ctx = BuildContext {
            name: "opencode",
            model: Some("mock/m"),
            extra_args: &["--pure".to_owned()],
        };
        let inv = Opencode.build(&req, &ctx).unwrap();
        assert_eq!(
            inv.args,
            [
                "run",
                ARGV_MESSAGE,
                "--format",
                "json",
                "--dir",
                "/w",
                "--print-logs",
                "-m",
                "mock/m",
                "--pure",
                "-f",
                "/s/prompt.md"
            ]
        );
        assert!(inv.stdin.is_none());
        assert_eq!(
            inv.files,
            vec![("/s/prompt.md".into(), b"the real prompt".to_vec())]
        );
        assert!(!inv.env.contains_key("OPENCODE_PERMISSION"));
    }

    #[test]
    fn test_opencode_build_read_only_phases_deny_every_writing_tool() {
        for phase in [
            Phase::Planning,
            Phase::Decompose,
            Phase::Qa,
            Phase::Discovery,
        ] {
            let req = EngineRequest { phase, ..request() };
            let ctx = BuildContext {
                name: "opencode",
                model: None,
                extra_args: &[],
            };
            let inv = Opencode.build(&req, &ctx).unwrap();
            let at = inv.args.iter().position(|a| a == "--agent").unwrap();
            assert_eq!(inv.args[at + 1], "plan", "{phase:?}");
            let permission: serde_json::Value =
                serde_json::from_str(&inv.env["OPENCODE_PERMISSION"]).unwrap();
            for tool in ["edit", "bash", "webfetch", "task"] {
                assert_eq!(permission[tool], "deny", "{phase:?} {tool}");
            }
            assert_eq!(inv.args.last().unwrap(), "/s/prompt.md");
        }
    }

    #[test]
    fn test_opencode_endpoint_writes_a_provider_and_qualifies_the_model() {
        let ctx = BuildContext {
            name: "opencode",
            model: Some("qwen3"),
            extra_args: &[],
        };
        let req = request();
        let mut inv = Opencode.build(&req, &ctx).unwrap();
        let endpoint = Endpoint {
            name: "opencode",
            base_url: Some("http://127.0.0.1:11434/v1"),
            api_key: Some(("OLLAMA_KEY", "k-123456789")),
            model: Some("qwen3"),
        };
        Opencode.endpoint(&req, &endpoint, &mut inv).unwrap();
        let at = inv.args.iter().position(|a| a == "-m").unwrap();
        assert_eq!(inv.args[at + 1], "godzilla/qwen3");
        assert_eq!(inv.args[inv.args.len() - 2..], ["-f", "/s/prompt.md"]);
        assert_eq!(inv.env["OPENCODE_CONFIG"], "/s/opencode-provider.json");
        assert_eq!(inv.env["OLLAMA_KEY"], "k-123456789");
        let (_, bytes) = inv
            .files
            .iter()
            .find(|(p, _)| p.ends_with("opencode-provider.json"))
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let provider = &config["provider"]["godzilla"];
        assert_eq!(provider["npm"], "@ai-sdk/openai-compatible");
        assert_eq!(provider["options"]["baseURL"], "http://127.0.0.1:11434/v1");
        assert_eq!(provider["options"]["apiKey"], "{env:OLLAMA_KEY}");
        assert_eq!(provider["models"]["qwen3"]["tool_call"], true);
        // No model: the server's model name cannot be guessed.
        let mut inv = Opencode.build(&req, &ctx).unwrap();
        let err = Opencode
            .endpoint(
                &req,
                &Endpoint {
                    model: None,
                    ..endpoint
                },
                &mut inv,
            )
            .unwrap_err();
        assert!(matches!(err, Error::NeedsModel { .. }), "{err}");
        // A vendor key alone also goes under the model's provider's variable.
        let mut inv = Opencode.build(&req, &ctx).unwrap();
        let vendor = Endpoint {
            name: "opencode",
            base_url: None,
            api_key: Some(("WORK_KEY", "sk-ant-0123456789")),
            model: Some("anthropic/claude-sonnet-4-5"),
        };
        Opencode.endpoint(&req, &vendor, &mut inv).unwrap();
        assert_eq!(inv.env["ANTHROPIC_API_KEY"], "sk-ant-0123456789");
        assert!(!inv.env.contains_key("OPENCODE_CONFIG"));
    }

    #[test]
    fn test_opencode_parse_success_sums_steps() {
        let text = r#"{"type":"step_start","timestamp":1,"sessionID":"ses_1","part":{"type":"step-start"}}
{"type":"tool_use","timestamp":2,"sessionID":"ses_1","part":{"tool":"write","state":{"status":"completed","input":{"filePath":"a.txt"},"output":""}}}
{"type":"step_finish","timestamp":3,"sessionID":"ses_1","part":{"reason":"tool-calls","tokens":{"total":150,"input":100,"output":20,"reasoning":5,"cache":{"read":10,"write":0}},"cost":0.001}}
{"type":"step_start","timestamp":4,"sessionID":"ses_1","part":{}}
{"type":"text","timestamp":5,"sessionID":"ses_1","part":{"text":"Wrote a.txt."}}
{"type":"step_finish","timestamp":6,"sessionID":"ses_1","part":{"reason":"stop","tokens":{"total":70,"input":50,"output":10,"reasoning":0,"cache":{"read":5,"write":1}},"cost":0.002}}
"#;
        let out = Opencode.parse(&request(), &raw(text, 0));
        assert_eq!(out.classification, Classification::Ok);
        assert_eq!(out.final_message.as_deref(), Some("Wrote a.txt."));
        assert_eq!(out.session_id.as_deref(), Some("ses_1"));
        assert_eq!(
            out.usage,
            Usage {
                input: 166,
                cached: 15,
                // 20 + 10 output plus 5 reasoning: output includes reasoning.
                output: 35,
                reasoning: 5
            }
        );
        assert!((out.cost_usd.unwrap() - 0.003).abs() < 1e-9);
    }

    #[test]
    fn test_opencode_parse_every_edit_refused_is_an_engine_error() {
        // As opencode 1.18.33 printed a write its permission rules refused (trimmed).
        let refused = r#"{"type":"step_start","timestamp":1,"sessionID":"ses_3","part":{}}
{"type":"tool_use","timestamp":2,"sessionID":"ses_3","part":{"type":"tool","tool":"write","state":{"status":"error","input":{"filePath":"/w/hello.txt","content":"x"},"error":"The user has specified a rule which prevents you from using this specific tool call."}}}
{"type":"step_finish","timestamp":3,"sessionID":"ses_3","part":{"reason":"tool-calls","tokens":{"input":1,"output":1,"reasoning":0,"cache":{"read":0,"write":0}}}}
{"type":"text","timestamp":4,"sessionID":"ses_3","part":{"text":"Done."}}
{"type":"step_finish","timestamp":5,"sessionID":"ses_3","part":{"reason":"stop","tokens":{"input":1,"output":1,"reasoning":0,"cache":{"read":0,"write":0}}}}
"#;
        let out = Opencode.parse(&request(), &raw(refused, 0));
        assert_eq!(out.classification, Classification::EngineError);
        let error = out.error.unwrap();
        assert!(
            error.contains("refused every edit") && error.contains("/w/hello.txt"),
            "{error}"
        );
        // An edit that went through afterwards makes it a normal attempt.
        let then_ok = refused.replace(
            r#"{"type":"text""#,
            r#"{"type":"tool_use","timestamp":4,"sessionID":"ses_3","part":{"tool":"edit","state":{"status":"completed","input":{"filePath":"/w/a.rs"}}}}
{"type":"text""#,
        );
        let out = Opencode.parse(&request(), &raw(&then_ok, 0));
        assert_eq!(out.classification, Classification::Ok, "{:?}", out.error);
        // A failed edit that is not a refusal (a stale old string) is the model's business.
        let stale = refused.replace(
            "The user has specified a rule which prevents you from using this specific tool call.",
            "oldString not found in content",
        );
        let out = Opencode.parse(&request(), &raw(&stale, 0));
        assert_eq!(out.classification, Classification::Ok, "{:?}", out.error);
        // Read-only phases are refused edits by design.
        let qa = EngineRequest {
            phase: Phase::Qa,
            ..request()
        };
        assert_eq!(
            Opencode.parse(&qa, &raw(refused, 0)).classification,
            Classification::Ok
        );
    }

    #[test]
    fn test_opencode_parse_errors() {
        for (status, class) in [
            (401, Classification::Auth),
            (429, Classification::RateLimit),
            (500, Classification::EngineError),
        ] {
            let text = format!(
                r#"{{"type":"error","timestamp":1,"sessionID":"ses_2","error":{{"name":"APIError","data":{{"message":"status {status}","statusCode":{status},"isRetryable":false}}}}}}"#
            );
            let out = Opencode.parse(&request(), &raw(&text, 1));
            assert_eq!(out.classification, class, "{status}");
            assert_eq!(out.session_id.as_deref(), Some("ses_2"));
        }
        let out = Opencode.parse(&request(), &raw("not json\n{\"type\":\"te", 0));
        assert_eq!(out.classification, Classification::EngineError);
        let out = Opencode.parse(&request(), &raw("", 0));
        assert_eq!(out.classification, Classification::EngineError);
    }

    #[test]
    fn test_opencode_refused_credentials_stop_the_run_at_the_first_refusal() {
        // The title call's refusal, as opencode 1.18 logs it with --print-logs.
        let title = r#"timestamp=2026-12-03T11:51:03.237Z level=ERROR run=aa0e7c2d message="stream error" providerID=godzilla modelID=mock-model session.id=ses_1 small=true agent=title mode=primary error.error="AI_APICallError: Incorrect API key provided: sk-mo***""#;
        let (class, message) = Opencode
            .fatal_line(Stream::Stderr, title)
            .expect("a refused key is final");
        assert_eq!(class, Classification::Auth);
        assert_eq!(
            message,
            "AI_APICallError: Incorrect API key provided: sk-mo***"
        );
        let server_error = title.replace(
            "Incorrect API key provided: sk-mo***",
            "Internal Server Error",
        );
        assert_eq!(Opencode.fatal_line(Stream::Stderr, &server_error), None);
        // The same words in another log line (a tool's output) or on stdout prove nothing.
        let tool = r#"timestamp=2026-12-03T11:51:03.237Z level=INFO message="tool output" output="401 Unauthorized""#;
        assert_eq!(Opencode.fatal_line(Stream::Stderr, tool), None);
        assert_eq!(Opencode.fatal_line(Stream::Stdout, title), None);
    }
}
