//! The Gemini CLI adapter: `gemini -o json --approval-mode … --skip-trust -p <fixed text>`,
//! with the prompt on stdin.
//!
//! gemini appends the `-p` text to whatever arrives on stdin, and `-p` is what makes it
//! headless, so the whole prompt goes on stdin and `-p` carries only a short fixed sentence:
//! the prompt never lands in argv. `-o json` prints nothing until the end, so the stall
//! watchdog is off for gemini and only the wall-clock timeout applies. The exit code is the
//! HTTP status masked to 8 bits (401 gives 145), which is used only when no JSON came back.
//!
//! This module only builds argv and reads output; it never runs anything itself.

use super::{
    Adapter, BuildContext, Classification, Endpoint, EngineKind, EngineOutcome, EngineRequest,
    Error, Invocation, ProbeCheck, RawRun, Stream, Usage, classify_known, classify_status,
    classify_text, extract_json, num,
};

/// The fixed `-p` text appended after the stdin prompt.
pub const P_TEXT: &str = "Follow the instructions above.";

/// The gemini adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gemini;

impl Adapter for Gemini {
    fn kind(&self) -> EngineKind {
        EngineKind::Gemini
    }

    fn default_program(&self) -> &str {
        "gemini"
    }

    fn install_hint(&self) -> &str {
        "install it with `npm install -g @google/gemini-cli`, or set `command` in \
         `[engines.gemini]`"
    }

    fn env_keys(&self) -> &[&'static str] {
        &[
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_VERTEX_BASE_URL",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_CLOUD_LOCATION",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ]
    }

    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error> {
        let mut args: Vec<String> = vec!["-o".into(), "json".into()];
        if let Some(model) = ctx.model {
            args.extend(["-m".to_owned(), model.to_owned()]);
        }
        let mode = if req.phase.writes() { "yolo" } else { "plan" };
        args.extend(["--approval-mode".to_owned(), mode.to_owned()]);
        args.push("--skip-trust".to_owned());
        args.extend(ctx.extra_args.iter().cloned());
        args.extend(["-p".to_owned(), P_TEXT.to_owned()]);
        Ok(Invocation {
            args,
            env: Default::default(),
            stdin: Some(req.prompt.as_bytes().to_vec()),
            files: Vec::new(),
            collect: Vec::new(),
            cwd: req.workdir.clone(),
        })
    }

    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome {
        let mut out = EngineOutcome::from_raw(raw);
        let doc = last_json_doc(&raw.stdout_text()).or_else(|| last_json_doc(&raw.stderr_text()));
        let Some(doc) = doc else {
            let stderr = raw.stderr_text();
            // Stopped in its retry loop (see `is_retry_loop`): its last notice says why.
            let notice = stderr.lines().rev().find(|l| is_retry_notice(l));
            let class = match raw.exit_code.map(|c| c & 0xFF) {
                // 401 & 0xFF, 403 & 0xFF, and gemini's own "Invalid auth method" exit.
                Some(145 | 147 | 41) => Classification::Auth,
                Some(173) => Classification::RateLimit,
                _ => match notice.and_then(notice_status) {
                    Some(status) => classify_status(status),
                    None => classify_known(EngineKind::Gemini, &raw.stderr_tail(5)),
                },
            };
            let tail = raw.stderr_tail(5);
            let message = match notice {
                Some(line) => line.trim().to_owned(),
                None if tail.is_empty() => "gemini printed no JSON result".to_owned(),
                None => tail,
            };
            out.fail(class, message);
            return out;
        };
        out.session_id = doc["session_id"].as_str().map(str::to_owned);
        if let Some(models) = doc["stats"]["models"].as_object() {
            for model in models.values() {
                let t = &model["tokens"];
                let cached = num(&t["cached"]);
                let input = if t["prompt"].is_null() {
                    num(&t["input"]) + cached
                } else {
                    num(&t["prompt"])
                };
                out.usage = Usage {
                    input: out.usage.input + input,
                    cached: out.usage.cached + cached,
                    // godzilla's output includes reasoning (as codex and the APIs bill it);
                    // gemini reports thoughts apart from candidates.
                    output: out.usage.output + num(&t["candidates"]) + num(&t["thoughts"]),
                    reasoning: out.usage.reasoning + num(&t["thoughts"]),
                };
            }
        }
        let err = &doc["error"];
        if !err.is_null() {
            let message = err["message"]
                .as_str()
                .unwrap_or("gemini reported an error")
                .to_owned();
            let status = err["code"]
                .as_u64()
                .or_else(|| err["code"].as_str().and_then(|c| c.parse().ok()));
            let class = match status {
                Some(status) if status >= 100 => classify_status(status),
                _ => classify_text(&message),
            };
            out.fail(class, message);
            return out;
        }
        match doc["response"].as_str() {
            Some(text) => out.final_message = Some(text.to_owned()),
            None => out.fail(Classification::EngineError, "gemini returned no response"),
        }
        if req.output_schema.is_some() {
            out.structured = out.final_message.as_deref().and_then(extract_json);
        }
        if req.phase.writes()
            && let Some(failed) = all_edits_failed(&doc["stats"]["tools"])
        {
            out.fail(
                Classification::EngineError,
                format!(
                    "gemini refused or failed every edit it tried ({failed}) and ran no \
                     command; nothing was written (its JSON output names no paths)"
                ),
            );
        }
        out
    }

    /// gemini retries a failed model call 10 times with a 5-30 s backoff (nearly 4 minutes
    /// for a 500 or nothing listening), printing a notice on stderr before each retry.
    fn is_retry_loop(&self, stream: Stream, line: &str) -> bool {
        stream == Stream::Stderr && is_retry_notice(line)
    }

    fn streams_output(&self) -> bool {
        // `-o json` prints one document at the end.
        false
    }

    /// `GOOGLE_GEMINI_BASE_URL` (the Gemini API, not OpenAI's) and `GEMINI_API_KEY`. The base
    /// URL alone switches gemini to "gateway" auth, which headless mode refuses, and only a
    /// settings file selects API-key auth instead; a system settings file is ignored unless
    /// every directory above it is private, so the run gets a gemini home of its own in the
    /// scratch directory (`GEMINI_CLI_HOME`, where gemini looks for `.gemini/`) holding that
    /// setting. The user's files stay untouched.
    fn endpoint(
        &self,
        req: &EngineRequest,
        endpoint: &Endpoint<'_>,
        inv: &mut Invocation,
    ) -> Result<(), Error> {
        if let Some((_, key)) = endpoint.api_key {
            inv.env.insert("GEMINI_API_KEY".to_owned(), key.to_owned());
        }
        if let Some(url) = endpoint.base_url {
            inv.env
                .insert("GOOGLE_GEMINI_BASE_URL".to_owned(), url.to_owned());
            let home = req.scratch_dir.join("gemini-home");
            let settings = serde_json::json!({
                "security": { "auth": { "selectedType": "gemini-api-key" } },
            });
            inv.files.push((
                home.join(".gemini/settings.json"),
                settings.to_string().into_bytes(),
            ));
            inv.env.insert(
                "GEMINI_CLI_HOME".to_owned(),
                home.to_string_lossy().into_owned(),
            );
        }
        Ok(())
    }

    fn probe_checks(&self) -> Vec<ProbeCheck> {
        vec![ProbeCheck {
            args: vec!["--help"],
            flags: vec![
                "--output-format",
                "--model",
                "--approval-mode",
                "--skip-trust",
                "--prompt",
            ],
        }]
    }
}

/// The last complete JSON object in `text`: gemini pretty-prints it over many lines, possibly
/// after warnings, so try from each line that opens an object at column 0, last first.
fn last_json_doc(text: &str) -> Option<serde_json::Value> {
    let mut starts: Vec<usize> = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .filter(|&i| text[i..].starts_with('{'))
        .collect();
    if text.starts_with('{') {
        starts.insert(0, 0);
    }
    starts.into_iter().rev().find_map(|i| {
        serde_json::from_str::<serde_json::Value>(text[i..].trim())
            .ok()
            .filter(serde_json::Value::is_object)
    })
}

/// gemini's notice of a failed model call it is about to retry: `Attempt 1 failed with status
/// 500. Retrying with backoff... ApiError: …` or `Attempt 2 failed. Retrying with backoff...
/// Error: … fetch failed …`.
fn is_retry_notice(line: &str) -> bool {
    line.starts_with("Attempt ")
        && line.contains(" failed")
        && line.contains("Retrying with backoff")
}

/// The HTTP status in a retry notice, when it names one.
fn notice_status(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(" failed with status ")?;
    rest.get(..3)?.parse().ok()
}

/// gemini's file-editing tools.
const EDIT_TOOLS: &[&str] = &["write_file", "replace"];

/// `write_file: 1 failed` when every edit gemini tried failed (a write outside the
/// workspace, a path its policy refuses) and no shell command succeeded either, so nothing
/// can have been written; `None` otherwise. gemini's `-o json` counts tool calls per tool
/// (`stats.tools.byName`) without saying why one failed or on which path.
fn all_edits_failed(tools: &serde_json::Value) -> Option<String> {
    let by_name = tools["byName"].as_object()?;
    let mut failed = Vec::new();
    for (name, stats) in by_name {
        let succeeded = num(&stats["success"]);
        if EDIT_TOOLS.contains(&name.as_str()) {
            if succeeded > 0 {
                return None;
            }
            if num(&stats["fail"]) > 0 {
                failed.push(format!("{name}: {} failed", num(&stats["fail"])));
            }
        } else if name == "run_shell_command" && succeeded > 0 {
            return None;
        }
    }
    (!failed.is_empty()).then(|| failed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::Phase;
    use super::*;

    fn request() -> EngineRequest {
        super::super::testing::request("big prompt", Phase::Qa)
    }

    fn raw(stdout: &str, stderr: &str, code: i32) -> RawRun {
        super::super::testing::raw(stdout, stderr, code)
    }

    #[test]
    fn test_gemini_endpoint_selects_api_key_auth_in_a_home_of_its_own() {
        let ctx = BuildContext {
            name: "gemini",
            model: Some("g"),
            extra_args: &[],
        };
        let mut inv = Gemini.build(&request(), &ctx).unwrap();
        let endpoint = Endpoint {
            name: "gemini",
            base_url: Some("http://127.0.0.1:4000"),
            api_key: Some(("K", "gm-key-123456")),
            model: Some("g"),
        };
        Gemini.endpoint(&request(), &endpoint, &mut inv).unwrap();
        assert_eq!(inv.env["GOOGLE_GEMINI_BASE_URL"], "http://127.0.0.1:4000");
        assert_eq!(inv.env["GEMINI_API_KEY"], "gm-key-123456");
        assert_eq!(inv.env["GEMINI_CLI_HOME"], "/s/gemini-home");
        let (path, bytes) = &inv.files[0];
        assert_eq!(
            path,
            std::path::Path::new("/s/gemini-home/.gemini/settings.json")
        );
        let settings: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(
            settings["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
    }

    #[test]
    fn test_gemini_parse_every_edit_failed_is_an_engine_error() {
        // As gemini 0.61.0 printed a write outside its workspace (trimmed): rc 0, a final
        // message claiming success, one failed write_file.
        let text = r#"{"session_id":"s-9","response":"MOCK_DONE: wrote /tmp/outside/hello.txt","stats":{"models":{},"tools":{"totalCalls":1,"totalSuccess":0,"totalFail":1,"byName":{"write_file":{"count":1,"success":0,"fail":1,"decisions":{"accept":0,"reject":0,"modify":0,"auto_accept":0}}}}}}"#;
        let exec = EngineRequest {
            phase: Phase::Exec,
            ..request()
        };
        let out = Gemini.parse(&exec, &raw(text, "", 0));
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("write_file: 1 failed"));
        // A later successful edit, or a shell command, may have done the work.
        for other in [
            r#""replace":{"count":1,"success":1,"fail":0}"#,
            r#""run_shell_command":{"count":1,"success":1,"fail":0}"#,
        ] {
            let text = text.replace(r#""byName":{"#, &format!(r#""byName":{{{other},"#));
            let out = Gemini.parse(&exec, &raw(&text, "", 0));
            assert_eq!(out.classification, Classification::Ok, "{other}");
        }
        // Review runs are refused edits by design.
        assert_eq!(
            Gemini.parse(&request(), &raw(text, "", 0)).classification,
            Classification::Ok
        );
    }

    #[test]
    fn test_gemini_build_keeps_prompt_off_argv() {
        let inv = Gemini
            .build(
                &request(),
                &BuildContext {
                    name: "gemini",
                    model: Some("g"),
                    extra_args: &[],
                },
            )
            .unwrap();
        assert_eq!(
            inv.args,
            [
                "-o",
                "json",
                "-m",
                "g",
                "--approval-mode",
                "plan",
                "--skip-trust",
                "-p",
                P_TEXT
            ]
        );
        assert_eq!(inv.stdin.as_deref(), Some(&b"big prompt"[..]));
    }

    #[test]
    fn test_gemini_parse_success_pretty_json() {
        let text = r#"Loaded cached credentials.
{
  "session_id": "g-1",
  "response": "Created hello.txt",
  "stats": {
    "models": {
      "gemini-2.5-pro": {
        "api": {"totalRequests": 2},
        "tokens": {"input": 80, "prompt": 100, "candidates": 12, "total": 130, "cached": 20, "thoughts": 18, "tool": 0}
      }
    },
    "tools": {}, "files": {}
  }
}
"#;
        let out = Gemini.parse(&request(), &raw(text, "", 0));
        assert_eq!(out.classification, Classification::Ok);
        assert_eq!(out.final_message.as_deref(), Some("Created hello.txt"));
        assert_eq!(out.session_id.as_deref(), Some("g-1"));
        assert_eq!(
            out.usage,
            Usage {
                input: 100,
                cached: 20,
                // candidates (12) plus thoughts (18): output includes reasoning.
                output: 30,
                reasoning: 18
            }
        );
    }

    #[test]
    fn test_gemini_parse_error_object_and_masked_exit() {
        let text = r#"{"session_id":"g-2","error":{"type":"ApiError","message":"Request had invalid authentication credentials","code":401}}"#;
        let out = Gemini.parse(&request(), &raw("", text, 145));
        assert_eq!(out.classification, Classification::Auth);
        let text = r#"{"session_id":"g-3","error":{"type":"ApiError","message":"Internal error","code":500}}"#;
        assert_eq!(
            Gemini.parse(&request(), &raw(text, "", 244)).classification,
            Classification::EngineError
        );
        let text = r#"{"error":{"type":"ApiError","message":"Resource has been exhausted (e.g. check quota).","code":429}}"#;
        assert_eq!(
            Gemini.parse(&request(), &raw(text, "", 173)).classification,
            Classification::RateLimit
        );
        // No JSON at all: the masked exit code still tells.
        assert_eq!(
            Gemini
                .parse(&request(), &raw("", "boom", 145))
                .classification,
            Classification::Auth
        );
        assert_eq!(
            Gemini
                .parse(&request(), &raw("", "Invalid auth method selected.", 41))
                .classification,
            Classification::Auth
        );
    }

    #[test]
    fn test_gemini_parse_garbage_and_empty() {
        let out = Gemini.parse(
            &request(),
            &raw("{\n  \"session_id\": \"x\",\n  \"resp", "", 0),
        );
        assert_eq!(out.classification, Classification::EngineError);
        let out = Gemini.parse(&request(), &raw("", "", 0));
        assert_eq!(out.classification, Classification::EngineError);
    }

    #[test]
    fn test_gemini_retry_notices_are_a_retry_loop_and_name_the_failure() {
        // As gemini 0.61.0 prints them on stderr (each followed by a stack trace).
        let server = "Attempt 1 failed with status 500. Retrying with backoff... _ApiError: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}";
        let quota = "Attempt 2 failed with status 429. Retrying with backoff... _ApiError: {\"error\":{\"code\":429}}";
        let network = "Attempt 2 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request";
        for line in [server, quota, network] {
            assert!(Gemini.is_retry_loop(Stream::Stderr, line), "{line}");
            assert!(!Gemini.is_retry_loop(Stream::Stdout, line), "{line}");
        }
        assert!(!Gemini.is_retry_loop(
            Stream::Stderr,
            "    at async retryWithBackoff (file:///x.js:1:2)"
        ));
        assert!(!Gemini.is_retry_loop(
            Stream::Stderr,
            "Attempt 10 failed: {\"error\":{\"code\":500}}. Max attempts reached"
        ));
        // Stopped by godzilla in the loop: no JSON, no exit code; the last notice decides.
        let stopped = |stderr: &str| RawRun {
            stderr: stderr.as_bytes().to_vec(),
            exit_code: None,
            ..RawRun::default()
        };
        let trace =
            "\n    at async retryWithBackoff (file:///x.js:1:2)\n    at async y (file:///y.js:3:4)";
        let out = Gemini.parse(
            &request(),
            &stopped(&format!("{server}{trace}\n{quota}{trace}")),
        );
        assert_eq!(out.classification, Classification::RateLimit);
        assert!(
            out.error
                .unwrap()
                .starts_with("Attempt 2 failed with status 429")
        );
        let out = Gemini.parse(
            &request(),
            &stopped(&format!("{server}{trace}\n{server}{trace}")),
        );
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("status 500"));
        let out = Gemini.parse(&request(), &stopped(&format!("{network}{trace}")));
        assert_eq!(out.classification, Classification::EngineError);
        assert!(out.error.unwrap().contains("fetch failed"));
    }
}
