//! The Claude Code adapter: `claude -p --output-format stream-json --verbose`, prompt on
//! stdin, cwd = the worktree.
//!
//! Claude's exit code is not enough: an API failure ends with `"subtype":"success"` and
//! `"is_error":true`, so the final `result` object decides. Retries are cut to one so a 401
//! fails in seconds instead of minutes.
//!
//! This module only builds argv and reads output; it never runs anything itself.

use std::collections::BTreeMap;

use super::{
    Adapter, BuildContext, Classification, Endpoint, EngineKind, EngineOutcome, EngineRequest,
    Error, Invocation, ProbeCheck, RawRun, Usage, classify_known, classify_status, json_lines, num,
};

/// The claude adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Claude;

impl Adapter for Claude {
    fn kind(&self) -> EngineKind {
        EngineKind::Claude
    }

    fn default_program(&self) -> &str {
        "claude"
    }

    fn install_hint(&self) -> &str {
        "install it with `npm install -g @anthropic-ai/claude-code`, or set `command` in \
         `[engines.claude]`"
    }

    fn env_keys(&self) -> &[&'static str] {
        &[
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_MODEL",
            "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
            "API_TIMEOUT_MS",
            "IS_SANDBOX",
        ]
    }

    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error> {
        let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
            .map(String::from)
            .into();
        if let Some(model) = ctx.model {
            args.extend(["--model".to_owned(), model.to_owned()]);
        }
        // acceptEdits works as root (bypassPermissions does not without IS_SANDBOX); plan
        // keeps read-only phases from editing.
        let mode = if req.phase.writes() {
            "acceptEdits"
        } else {
            "plan"
        };
        args.extend(["--permission-mode".to_owned(), mode.to_owned()]);
        if let Some(schema) = &req.output_schema {
            // The schema is data, not the prompt: fine in argv.
            args.extend(["--json-schema".to_owned(), schema.to_string()]);
        }
        args.extend(ctx.extra_args.iter().cloned());
        let env = BTreeMap::from(
            [
                ("CLAUDE_CODE_MAX_RETRIES", "1"),
                ("DISABLE_AUTOUPDATER", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("DISABLE_TELEMETRY", "1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Ok(Invocation {
            args,
            env,
            stdin: Some(req.prompt.as_bytes().to_vec()),
            files: Vec::new(),
            collect: Vec::new(),
            cwd: req.workdir.clone(),
        })
    }

    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome {
        let mut out = EngineOutcome::from_raw(raw);
        let stdout = raw.stdout_text();
        let mut result = None;
        for ev in json_lines(&stdout) {
            if out.session_id.is_none() {
                out.session_id = ev["session_id"].as_str().map(str::to_owned);
            }
            if ev["type"] == "result" {
                result = Some(ev);
            }
        }
        let Some(result) = result else {
            let tail = raw.stderr_tail(5);
            let message = if tail.is_empty() {
                "claude printed no result object".to_owned()
            } else {
                tail
            };
            out.fail(classify_known(EngineKind::Claude, &message), message);
            return out;
        };
        if let Some(id) = result["session_id"].as_str() {
            out.session_id = Some(id.to_owned());
        }
        let u = &result["usage"];
        let cache_read = num(&u["cache_read_input_tokens"]);
        out.usage = Usage {
            input: num(&u["input_tokens"]) + cache_read + num(&u["cache_creation_input_tokens"]),
            cached: cache_read,
            // Anthropic's output_tokens already include thinking; the CLI reports that part.
            output: num(&u["output_tokens"]),
            reasoning: num(&u["output_tokens_details"]["thinking_tokens"]),
        };
        out.cost_usd = result["total_cost_usd"].as_f64();
        let text = result["result"].as_str().map(str::to_owned);
        let subtype = result["subtype"].as_str().unwrap_or("success");
        if result["is_error"].as_bool() == Some(true) || subtype != "success" {
            let message = text
                .or_else(|| result["errors"].as_array().map(|e| format!("{e:?}")))
                .unwrap_or_else(|| format!("claude reported {subtype}"));
            let class = match result["api_error_status"].as_u64() {
                Some(status) => classify_status(status),
                // `result` may carry the agent's own last words: only claude's own failure
                // messages count.
                None => classify_known(EngineKind::Claude, &message),
            };
            out.fail(class, message);
            return out;
        }
        out.final_message = text;
        out.structured = Some(result["structured_output"].clone()).filter(|v| !v.is_null());
        debug_assert_eq!(out.classification, Classification::Ok);
        if req.phase.writes()
            && let Some(refused) = all_edits_refused(&stdout, &result)
        {
            out.fail(
                Classification::EngineError,
                format!("claude refused every edit it tried: {}", refused.join(", ")),
            );
        }
        out
    }

    /// Claude speaks only the Anthropic Messages API: `ANTHROPIC_BASE_URL` (Claude appends
    /// `/v1/messages`) and `ANTHROPIC_API_KEY`.
    fn endpoint(
        &self,
        _req: &EngineRequest,
        endpoint: &Endpoint<'_>,
        inv: &mut Invocation,
    ) -> Result<(), Error> {
        if let Some(url) = endpoint.base_url {
            inv.env
                .insert("ANTHROPIC_BASE_URL".to_owned(), url.to_owned());
        }
        if let Some((_, key)) = endpoint.api_key {
            inv.env
                .insert("ANTHROPIC_API_KEY".to_owned(), key.to_owned());
        }
        Ok(())
    }

    /// `claude auth status`: a JSON object whose `loggedIn` counts an `ANTHROPIC_API_KEY` too.
    fn login_check(&self) -> Option<super::LoginCheck> {
        Some(super::LoginCheck {
            args: &["auth", "status"],
            read: |_, stdout| {
                serde_json::from_str::<serde_json::Value>(stdout.trim()).ok()?["loggedIn"].as_bool()
            },
        })
    }

    fn probe_checks(&self) -> Vec<ProbeCheck> {
        vec![ProbeCheck {
            args: vec!["--help"],
            flags: vec![
                "--print",
                "--output-format",
                "--verbose",
                "--model",
                "--permission-mode",
                "--json-schema",
            ],
        }]
    }
}

/// Claude's file-editing tools.
const EDIT_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

/// The refused targets (paths, or commands), when the run's `permission_denials` include an
/// edit and no edit succeeded: Claude then ends "successfully" having changed nothing (it
/// refuses to edit below `.git`, for one). `None` when nothing was refused or an edit went
/// through.
fn all_edits_refused(stdout: &str, result: &serde_json::Value) -> Option<Vec<String>> {
    let denials = result["permission_denials"].as_array()?;
    let denied_ids: Vec<&str> = denials
        .iter()
        .filter_map(|d| d["tool_use_id"].as_str())
        .collect();
    if !denials
        .iter()
        .any(|d| EDIT_TOOLS.contains(&d["tool_name"].as_str().unwrap_or_default()))
    {
        return None;
    }
    // Edit tool calls, and the ids whose tool result was an error.
    let mut edit_ids = Vec::new();
    let mut failed_ids = Vec::new();
    for ev in json_lines(stdout) {
        let Some(blocks) = ev["message"]["content"].as_array() else {
            continue;
        };
        for block in blocks {
            let id = block["id"].as_str().or(block["tool_use_id"].as_str());
            match (block["type"].as_str(), id) {
                (Some("tool_use"), Some(id))
                    if EDIT_TOOLS.contains(&block["name"].as_str().unwrap_or_default()) =>
                {
                    edit_ids.push(id.to_owned());
                }
                (Some("tool_result"), Some(id)) if block["is_error"] == true => {
                    failed_ids.push(id.to_owned());
                }
                _ => {}
            }
        }
    }
    let succeeded = edit_ids
        .iter()
        .any(|id| !denied_ids.contains(&id.as_str()) && !failed_ids.contains(id));
    if succeeded {
        return None;
    }
    let mut refused: Vec<String> = denials
        .iter()
        .map(|d| {
            let input = &d["tool_input"];
            input["file_path"]
                .as_str()
                .or(input["notebook_path"].as_str())
                .or(input["command"].as_str())
                .map_or_else(
                    || d["tool_name"].as_str().unwrap_or("a tool").to_owned(),
                    str::to_owned,
                )
        })
        .collect();
    refused.dedup();
    Some(refused)
}

#[cfg(test)]
mod tests {
    use super::super::Phase;
    use super::*;

    fn request() -> EngineRequest {
        super::super::testing::request("line one\n$(rm -rf /)", Phase::Exec)
    }

    fn raw(stdout: &str, code: i32) -> RawRun {
        super::super::testing::raw(stdout, "", code)
    }

    #[test]
    fn test_claude_build() {
        let mut req = request();
        req.phase = Phase::Planning;
        req.output_schema = Some(serde_json::json!({"type": "object"}));
        let ctx = BuildContext {
            name: "claude",
            model: Some("sonnet"),
            extra_args: &[],
        };
        let inv = Claude.build(&req, &ctx).unwrap();
        assert_eq!(
            inv.args,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
                "sonnet",
                "--permission-mode",
                "plan",
                "--json-schema",
                r#"{"type":"object"}"#
            ]
        );
        assert_eq!(inv.cwd, std::path::PathBuf::from("/w"));
        assert_eq!(inv.stdin.unwrap(), req.prompt.as_bytes());
        assert_eq!(inv.env["CLAUDE_CODE_MAX_RETRIES"], "1");
        let exec = Claude.build(&request(), &ctx).unwrap();
        assert!(exec.args.contains(&"acceptEdits".to_owned()));
    }

    #[test]
    fn test_claude_parse_success_stream() {
        let text = r#"{"type":"system","subtype":"init","session_id":"s-1","cwd":"/w","tools":["Write"],"model":"m","permissionMode":"acceptEdits"}
{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Write","input":{}}]},"session_id":"s-1"}
{"type":"user","message":{"content":[{"type":"tool_result"}]},"session_id":"s-1"}
{"type":"result","subtype":"success","is_error":false,"result":"All done.","session_id":"s-1","num_turns":2,"duration_ms":1200,"terminal_reason":"completed","usage":{"input_tokens":10,"output_tokens":40,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000},"total_cost_usd":0.0123,"structured_output":{"verdict":"PASS"}}
"#;
        let out = Claude.parse(&request(), &raw(text, 0));
        assert_eq!(out.classification, Classification::Ok);
        assert_eq!(out.final_message.as_deref(), Some("All done."));
        assert_eq!(out.session_id.as_deref(), Some("s-1"));
        assert_eq!(
            out.usage,
            Usage {
                input: 1110,
                cached: 1000,
                output: 40,
                reasoning: 0
            }
        );
        assert_eq!(out.cost_usd, Some(0.0123));
        assert_eq!(out.structured, Some(serde_json::json!({"verdict": "PASS"})));
    }

    #[test]
    fn test_claude_parse_is_error_with_subtype_success() {
        for (status, class) in [
            (401, Classification::Auth),
            (429, Classification::RateLimit),
            (500, Classification::EngineError),
        ] {
            let text = format!(
                r#"{{"type":"result","subtype":"success","is_error":true,"api_error_status":{status},"terminal_reason":"api_error","result":"API Error: {status} boom","session_id":"s","usage":{{"input_tokens":0,"output_tokens":0}},"total_cost_usd":0}}"#
            );
            let out = Claude.parse(&request(), &raw(&text, 1));
            assert_eq!(out.classification, class, "{status}");
            assert!(out.final_message.is_none());
            assert!(out.error.unwrap().contains("API Error"));
        }
    }

    #[test]
    fn test_claude_parse_connection_refused_and_garbage() {
        let text = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: Connection refused","session_id":"s"}"#;
        let out = Claude.parse(&request(), &raw(text, 1));
        assert_eq!(out.classification, Classification::EngineError);
        let out = Claude.parse(&request(), &raw("{\"type\":\"result\",\"is_er", 0));
        assert_eq!(out.classification, Classification::EngineError);
        let mut r = raw("", 1);
        r.stderr = b"Invalid API key \xc2\xb7 Please run /login".to_vec();
        let out = Claude.parse(&request(), &r);
        assert_eq!(out.classification, Classification::Auth);
    }

    #[test]
    fn test_claude_parse_every_edit_refused_is_an_engine_error() {
        // As claude 2.1.331 printed it for a worktree below `.git` (trimmed).
        let text = r#"{"type":"system","subtype":"init","session_id":"s-2","cwd":"/r/.git/godzilla/wt/w1"}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/r/.git/godzilla/wt/w1/hello.txt","content":"x"}}]},"session_id":"s-2"}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"Claude requested permissions to edit /r/.git/godzilla/wt/w1/hello.txt which is a sensitive file.","is_error":true,"tool_use_id":"toolu_1"}]},"session_id":"s-2"}
{"type":"assistant","message":{"content":[{"type":"text","text":"MOCK_DONE"}]},"session_id":"s-2"}
{"type":"result","subtype":"success","is_error":false,"result":"MOCK_DONE","session_id":"s-2","usage":{"input_tokens":222,"output_tokens":44},"permission_denials":[{"tool_name":"Write","tool_use_id":"toolu_1","tool_input":{"file_path":"/r/.git/godzilla/wt/w1/hello.txt","content":"x"}}],"terminal_reason":"completed"}
"#;
        let out = Claude.parse(&request(), &raw(text, 0));
        assert_eq!(out.classification, Classification::EngineError);
        let error = out.error.unwrap();
        assert!(error.contains("refused every edit"), "{error}");
        assert!(
            error.contains("/r/.git/godzilla/wt/w1/hello.txt"),
            "{error}"
        );
        // The usage and session are still recorded.
        assert_eq!(out.session_id.as_deref(), Some("s-2"));
        assert_eq!(out.usage.output, 44);

        // One refused edit next to one that went through is not a failed attempt.
        let mixed = text.replace(
            r#"{"type":"assistant","message":{"content":[{"type":"text""#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_2","name":"Edit","input":{"file_path":"/r/a.rs"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","content":"ok","tool_use_id":"toolu_2"}]}}
{"type":"assistant","message":{"content":[{"type":"text""#,
        );
        let out = Claude.parse(&request(), &raw(&mixed, 0));
        assert_eq!(out.classification, Classification::Ok, "{:?}", out.error);

        // A read-only phase may be refused an edit: that is its mode working.
        let mut qa = request();
        qa.phase = Phase::Qa;
        let out = Claude.parse(&qa, &raw(text, 0));
        assert_eq!(out.classification, Classification::Ok);
    }

    #[test]
    fn test_claude_parse_error_subtype() {
        let text =
            r#"{"type":"result","subtype":"error_max_turns","is_error":false,"session_id":"s"}"#;
        let out = Claude.parse(&request(), &raw(text, 0));
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("error_max_turns"));
    }
}
