//! A scripted mock model server on 127.0.0.1 for driving the REAL engine CLIs offline (owned by
//! the engines work; used by `test_real_engines`).
//!
//! It speaks the four wire protocols the CLIs use, all streamed as server-sent events:
//! - OpenAI Responses (`POST …/responses`): codex;
//! - OpenAI Chat Completions (`POST …/chat/completions`): opencode with an openai-compatible
//!   provider;
//! - Anthropic Messages (`POST …/messages`): claude;
//! - Gemini (`POST …:streamGenerateContent?alt=sse`, and the non-streaming `:generateContent`):
//!   gemini.
//!
//! The script is the same for every protocol and is decided per request from its body, so the
//! server keeps no conversation state:
//! 1. tools offered and no tool result in the conversation yet: call whichever file-writing tool
//!    (or, failing that, shell tool) is offered, to write `file_path` with `file_content`;
//! 2. a tool result is present: send `final_text`;
//! 3. no tools offered (opencode's title generation, helper calls): a short plain text answer.
//!
//! A server started with [`MockLlm::start_protocol`] also plays the other phases of a whole
//! protocol, told apart by godzilla's own prompts: a planning request (its prompt starts with
//! [`PLANNING_MARKER`]) gets the scripted plan, through the schema tool when the CLI offers one
//! (claude's `StructuredOutput`) and as JSON text otherwise (codex sends the schema as the
//! response format, opencode and gemini have none); a review request ([`REVIEW_MARKER`]) gets
//! the scripted review text, verdict line included, without touching a tool; anything else is
//! a step to execute and follows the script above.
//!
//! Every model response reports token usage in its protocol's own format, with nonzero cached
//! and reasoning counts so that adapters mapping the wrong field are caught; each recorded
//! request keeps the usage it was sent, in godzilla's own terms ([`ReportedUsage`]).
//! `status: Some(401 | 500 | …)` makes every request fail with that status and a
//! protocol-shaped error body. An unreachable server is simulated with [`closed_port`].
//!
//! Only std networking (no HTTP crate): a `TcpListener` on 127.0.0.1:0, one thread per
//! connection, HTTP/1.1 with `Connection: close` on every response (so no client ever reuses a
//! socket the server has finished with). `serde_json` (a dependency of the crate) reads and
//! writes the bodies. Dropping the [`MockLlm`] stops the accept loop, shuts every open
//! connection down and joins every thread; every loop is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

/// Accepting stops after this many connections: a real CLI run makes a handful.
const MAX_CONNECTIONS: usize = 2_000;
/// A client that sends nothing for this long is dropped (it cannot hold a thread forever).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Request limits: bigger requests are refused, not buffered.
const MAX_HEADER_LINES: usize = 256;
const MAX_LINE_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const MAX_CHUNKS: usize = 1_000_000;

/// What the mock model does, fixed for the life of one server.
#[derive(Clone, Debug)]
pub(crate) struct MockScript {
    /// Path passed verbatim to the write tool (and to the shell command for shell tools). Some
    /// write tools (claude's `Write`) require an absolute path, so tests pass one inside the
    /// worktree.
    pub(crate) file_path: String,
    /// Exact content to write.
    pub(crate) file_content: String,
    /// The final assistant message, sent once a tool result is in the conversation.
    pub(crate) final_text: String,
    /// When set, every request is answered with this HTTP status and an error body.
    pub(crate) status: Option<u16>,
}

/// The plain text answer to requests that offer no tools (title generation and the like).
pub(crate) const PLAIN_TEXT: &str = "Mock title";

/// The first words of godzilla's planning prompt (`prompts/planning.md`).
pub(crate) const PLANNING_MARKER: &str = "You are planning a unit of work";
/// The first words of godzilla's review prompt (`prompts/qa.md`).
pub(crate) const REVIEW_MARKER: &str = "You are reviewing one step";

/// What the mock answers in the phases around execution, for a whole protocol.
#[derive(Clone, Debug)]
pub(crate) struct PhaseScript {
    /// The planning answer: `{"plan": …, "steps": [{"filename", "content"}]}`.
    pub(crate) plan: Value,
    /// The review, ending with its `Verdict:` line.
    pub(crate) review: String,
}

/// Usage the mock reports for every tool-offering (agent) model call, in godzilla's terms:
/// `input` includes `cached`, `output` includes `reasoning`.
pub(crate) const AGENT_USAGE: ReportedUsage = ReportedUsage {
    input: 1500,
    cached: 400,
    output: 60,
    reasoning: 12,
};
/// Usage reported for calls that offer no tools; deliberately different from [`AGENT_USAGE`] so a
/// test can tell whether an engine counts its helper calls.
pub(crate) const HELPER_USAGE: ReportedUsage = ReportedUsage {
    input: 70,
    cached: 0,
    output: 5,
    reasoning: 0,
};

/// Token counts the mock sent in one response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReportedUsage {
    /// Prompt tokens, cached ones included.
    pub(crate) input: u64,
    /// Prompt tokens served from cache.
    pub(crate) cached: u64,
    /// Completion tokens, reasoning included.
    pub(crate) output: u64,
    /// Reasoning tokens.
    pub(crate) reasoning: u64,
}

impl std::ops::Add for ReportedUsage {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            input: self.input + o.input,
            cached: self.cached + o.cached,
            output: self.output + o.output,
            reasoning: self.reasoning + o.reasoning,
        }
    }
}

/// The wire protocol a request was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OpenAI Responses.
    Responses,
    /// OpenAI Chat Completions.
    ChatCompletions,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini generateContent / streamGenerateContent.
    Gemini,
}

/// What the mock answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Turn 1: a call of this tool.
    ToolCall(String),
    /// Turn 2: the scripted final text.
    FinalText,
    /// No tools offered: [`PLAIN_TEXT`].
    PlainText,
    /// A planning request: the scripted plan, as a call of this schema tool.
    PlanTool(String),
    /// A planning request: the scripted plan as JSON text.
    PlanText,
    /// A review request: the scripted review.
    Review,
    /// An injected error status.
    InjectedStatus(u16),
    /// Anything else (unknown route, unparseable body, token counting, model list), with the
    /// status sent.
    Other(u16),
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct RecordedRequest {
    /// HTTP method.
    pub(crate) method: String,
    /// Request target (path and query).
    pub(crate) path: String,
    /// Headers, names lowercased, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body, lossily decoded as UTF-8.
    pub(crate) body: String,
    /// The protocol, when the route is a model call.
    pub(crate) protocol: Option<Protocol>,
    /// Tool names offered in the request (empty when none or not a model call).
    pub(crate) tools: Vec<String>,
    /// What was answered.
    pub(crate) reply: Reply,
    /// The usage sent back, when the reply was a model response.
    pub(crate) usage: Option<ReportedUsage>,
    /// When the request was read (its answer follows at once).
    pub(crate) at: std::time::Instant,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, when it is JSON.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct Shared {
    script: MockScript,
    phases: Option<PhaseScript>,
    port: u16,
    stop: AtomicBool,
    ids: AtomicU64,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Whether an injected 429/5xx says "retry now" (see [`MockLlm::start_as_a_server_would`]).
    retry_now: bool,
    /// Clones of every open connection, so `Drop` can shut them down and unblock their threads.
    conns: Mutex<Vec<TcpStream>>,
}

/// Locks ignoring poison: a panicking connection thread must not hide the log from the test.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn next_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}{:x}{:06x}",
            self.port,
            self.ids.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// A running mock server; dropping it shuts it down.
pub(crate) struct MockLlm {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockLlm {
    /// Binds 127.0.0.1 on a free port and starts serving `script`.
    pub(crate) fn start(script: MockScript) -> Self {
        Self::serve(script, None)
    }

    /// As [`MockLlm::start`], and also plans and reviews: every phase of a whole protocol.
    pub(crate) fn start_protocol(script: MockScript, phases: PhaseScript) -> Self {
        Self::serve(script, Some(phases))
    }

    /// As [`MockLlm::start`], but an injected 429 or 5xx comes without the `Retry-After: 0`
    /// the other servers add to keep failure tests fast: as a real server sends it, so each
    /// CLI's own retries and backoff take the time they take for a user.
    pub(crate) fn start_as_a_server_would(script: MockScript) -> Self {
        Self::serve_with(script, None, false)
    }

    fn serve(script: MockScript, phases: Option<PhaseScript>) -> Self {
        Self::serve_with(script, phases, true)
    }

    fn serve_with(script: MockScript, phases: Option<PhaseScript>, retry_now: bool) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            script,
            phases,
            port,
            stop: AtomicBool::new(false),
            ids: AtomicU64::new(1),
            requests: Mutex::new(Vec::new()),
            retry_now,
            conns: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name(format!("mock-llm-{port}"))
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("spawn accept thread");
        Self {
            shared,
            accept: Some(accept),
        }
    }

    /// The port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.shared.port
    }

    /// `http://127.0.0.1:<port>` (no trailing slash, no `/v1`: each CLI wants its own suffix).
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.port)
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The model calls (requests recognised as one of the four protocols).
    pub(crate) fn model_calls(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.protocol.is_some())
            .collect()
    }

    /// Sum of the usage reported on calls that offered tools: what an engine that counts its
    /// agent turns (and not its helper calls) must report.
    pub(crate) fn agent_usage(&self) -> ReportedUsage {
        self.requests()
            .iter()
            .filter(|r| !r.tools.is_empty())
            .filter_map(|r| r.usage)
            .fold(ReportedUsage::default(), |a, b| a + b)
    }

    /// Sum of the usage reported on every model call, helper calls included.
    pub(crate) fn total_usage(&self) -> ReportedUsage {
        self.requests()
            .iter()
            .filter_map(|r| r.usage)
            .fold(ReportedUsage::default(), |a, b| a + b)
    }

    /// A compact one-line-per-request summary for assertion messages.
    pub(crate) fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {} -> {:?} (tools: {})\n",
                    r.method,
                    r.path,
                    r.reply,
                    r.tools.len()
                )
            })
            .collect()
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for conn in lock(&self.shared.conns).drain(..) {
            // Unblocks the connection thread's read or write; errors mean it is already closed.
            drop(conn.shutdown(Shutdown::Both));
        }
        // Wakes the blocking accept so it sees `stop`. A failure means the listener is gone.
        drop(TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.shared.port)),
            Duration::from_secs(5),
        ));
        if let Some(accept) = self.accept.take() {
            // A panic in the server thread would already have failed the requests it served.
            drop(accept.join());
        }
    }
}

/// A 127.0.0.1 port with nothing listening: binds an ephemeral port and releases it. Another
/// process could take it in between, which on a test machine is unlikely and would only turn
/// "connection refused" into some other failed exchange.
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut workers = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        let mut conns = lock(&shared.conns);
        // Checked under the same lock `Drop` takes, so no connection escapes the shutdown.
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        conns.push(clone);
        drop(conns);
        let conn_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("mock-llm-{}-conn", shared.port))
            .spawn(move || serve_connection(stream, &conn_shared));
        if let Ok(handle) = spawned {
            workers.push(handle);
        }
    }
    for worker in workers {
        drop(worker.join());
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    // Timeouts bound a silent or stuck client; `Drop` shuts the socket down sooner.
    drop(stream.set_read_timeout(Some(IO_TIMEOUT)));
    drop(stream.set_write_timeout(Some(IO_TIMEOUT)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut out = write_half;
    // One request per connection: every response says `Connection: close`. Write errors only
    // mean the client hung up (or `Drop` shut the socket); the request is logged either way.
    match read_request(&mut reader, &mut out) {
        Ok(Some(req)) => {
            drop(handle(&req, &mut out, shared));
        }
        Ok(None) => {}
        Err(msg) => {
            drop(write_json(
                &mut out,
                400,
                &json!({ "error": { "message": msg } }),
            ));
        }
    }
    drop(out.flush());
    drop(out.shutdown(Shutdown::Both));
}

fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut buf)
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err("line too long or truncated".into());
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

fn read_request(
    reader: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<Option<Request>, String> {
    let Some(request_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("bad request line: {request_line}"));
    };
    let mut headers = Vec::new();
    for _ in 0..MAX_HEADER_LINES {
        let line = read_line(reader)?.ok_or("eof in headers")?;
        if line.is_empty() {
            let get = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _): &&(String, String)| k == name)
                    .map(|(_, v)| v.to_ascii_lowercase())
            };
            if get("expect").is_some_and(|v| v == "100-continue") {
                out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .map_err(|e| e.to_string())?;
            }
            let body = if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                read_chunked(reader)?
            } else {
                let len = match get("content-length") {
                    Some(v) => v
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| "bad content-length")?,
                    None => 0,
                };
                if len > MAX_BODY_BYTES {
                    return Err("body too large".into());
                }
                let mut body = vec![0; len];
                reader
                    .read_exact(&mut body)
                    .map_err(|e| format!("read body: {e}"))?;
                body
            };
            return Ok(Some(Request {
                method: method.to_string(),
                target: target.to_string(),
                headers,
                body,
            }));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header: {line}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Err("too many headers".into())
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    for _ in 0..MAX_CHUNKS {
        let size_line = read_line(reader)?.ok_or("eof in chunk size")?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
        if size == 0 {
            // Trailers, up to the blank line.
            for _ in 0..MAX_HEADER_LINES {
                match read_line(reader)? {
                    Some(line) if !line.is_empty() => {}
                    _ => return Ok(body),
                }
            }
            return Err("too many trailers".into());
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err("body too large".into());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|e| format!("read chunk: {e}"))?;
        let mut crlf = [0u8; 2];
        reader
            .read_exact(&mut crlf)
            .map_err(|e| format!("read chunk end: {e}"))?;
    }
    Err("too many chunks".into())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_json(out: &mut impl Write, status: u16, body: &Value) -> std::io::Result<()> {
    write_json_with(out, status, "", body)
}

/// `extra` is more header lines, each ending in CRLF.
fn write_json_with(
    out: &mut impl Write,
    status: u16,
    extra: &str,
    body: &Value,
) -> std::io::Result<()> {
    let data = body.to_string();
    write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n{data}",
        reason(status),
        data.len()
    )?;
    out.flush()
}

/// A server-sent-events response: headers now, events through [`Sse::event`], end by closing.
struct Sse<'a, W: Write> {
    out: &'a mut W,
}

impl<'a, W: Write> Sse<'a, W> {
    fn start(out: &'a mut W) -> std::io::Result<Self> {
        out.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
              Connection: close\r\n\r\n",
        )?;
        Ok(Self { out })
    }

    /// One event; `name` is the SSE `event:` field (Gemini and Chat Completions send none).
    fn event(&mut self, name: Option<&str>, data: &Value) -> std::io::Result<()> {
        if let Some(name) = name {
            writeln!(self.out, "event: {name}")?;
        }
        write!(self.out, "data: {data}\n\n")?;
        self.out.flush()
    }

    fn raw(&mut self, data: &str) -> std::io::Result<()> {
        write!(self.out, "data: {data}\n\n")?;
        self.out.flush()
    }
}

/// What a request is, from its method and path.
enum Route {
    Model(Protocol, bool),
    CountTokens(Protocol),
    Models,
    Unknown,
}

fn route(method: &str, path: &str) -> Route {
    let post = method == "POST";
    if post && path.ends_with("/responses") {
        Route::Model(Protocol::Responses, true)
    } else if post && path.ends_with("/chat/completions") {
        Route::Model(Protocol::ChatCompletions, true)
    } else if post && path.ends_with("/messages/count_tokens") {
        Route::CountTokens(Protocol::Anthropic)
    } else if post && path.ends_with("/messages") {
        Route::Model(Protocol::Anthropic, true)
    } else if post && path.contains(":streamGenerateContent") {
        Route::Model(Protocol::Gemini, true)
    } else if post && path.contains(":generateContent") {
        Route::Model(Protocol::Gemini, false)
    } else if post && path.contains(":countTokens") {
        Route::CountTokens(Protocol::Gemini)
    } else if method == "GET" && path.ends_with("/models") {
        Route::Models
    } else {
        Route::Unknown
    }
}

struct Entry {
    protocol: Option<Protocol>,
    tools: Vec<String>,
    reply: Reply,
    usage: Option<ReportedUsage>,
}

fn handle(req: &Request, out: &mut impl Write, shared: &Shared) -> std::io::Result<()> {
    let at = std::time::Instant::now();
    let path = req
        .target
        .split('?')
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let route = route(&req.method, path);
    let mut entry = Entry {
        protocol: None,
        tools: Vec::new(),
        reply: Reply::Other(200),
        usage: None,
    };
    let result = respond(req, &route, &mut entry, out, shared);
    lock(&shared.requests).push(RecordedRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        headers: req.headers.clone(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        protocol: entry.protocol,
        tools: entry.tools,
        reply: entry.reply,
        usage: entry.usage,
        at,
    });
    result
}

fn respond(
    req: &Request,
    route: &Route,
    entry: &mut Entry,
    out: &mut impl Write,
    shared: &Shared,
) -> std::io::Result<()> {
    let protocol = match route {
        Route::Model(p, _) | Route::CountTokens(p) => Some(*p),
        Route::Models | Route::Unknown => None,
    };
    entry.protocol = match route {
        Route::Model(p, _) => Some(*p),
        _ => None,
    };
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    if let (Route::Model(p, _), Some(body)) = (route, &body) {
        entry.tools = tool_names(*p, body);
    }
    if let Some(status) = shared.script.status {
        entry.reply = Reply::InjectedStatus(status);
        let message = format!("mock: injected HTTP {status}");
        // A retryable status says "retry now": clients that honour Retry-After (opencode, the
        // AI SDK, the Anthropic SDK) then exhaust their retries in milliseconds instead of the
        // minute their default backoff takes, so a failure test stays fast.
        let retry_now = if shared.retry_now && (status == 429 || status >= 500) {
            "Retry-After: 0\r\nRetry-After-Ms: 0\r\n"
        } else {
            ""
        };
        return write_json_with(
            out,
            status,
            retry_now,
            &error_body(protocol, status, &message),
        );
    }
    match route {
        Route::Unknown => {
            entry.reply = Reply::Other(404);
            let message = format!("mock: no route for {} {}", req.method, req.target);
            write_json(out, 404, &error_body(None, 404, &message))
        }
        Route::Models => {
            entry.reply = Reply::Other(200);
            let model =
                json!({ "id": "mock-model", "object": "model", "created": 0, "owned_by": "mock" });
            write_json(out, 200, &json!({ "object": "list", "data": [model] }))
        }
        Route::CountTokens(p) => {
            entry.reply = Reply::Other(200);
            let n = AGENT_USAGE.input;
            let body = match p {
                Protocol::Gemini => json!({ "totalTokens": n }),
                _ => json!({ "input_tokens": n }),
            };
            write_json(out, 200, &body)
        }
        Route::Model(p, stream) => {
            let Some(body) = body else {
                entry.reply = Reply::Other(400);
                return write_json(
                    out,
                    400,
                    &error_body(Some(*p), 400, "mock: body is not JSON"),
                );
            };
            let phase = shared
                .phases
                .as_ref()
                .and_then(|phases| decide_phase(*p, &req.body, &body, &entry.tools, phases));
            let (turn, reply) = phase.unwrap_or_else(|| {
                let turn = decide(*p, &body, &entry.tools, &shared.script);
                let reply = match &turn {
                    Turn::Call(name, _) => Reply::ToolCall(name.clone()),
                    Turn::Text(_) if entry.tools.is_empty() => Reply::PlainText,
                    Turn::Text(_) => Reply::FinalText,
                };
                (turn, reply)
            });
            entry.usage = Some(if entry.tools.is_empty() {
                HELPER_USAGE
            } else {
                AGENT_USAGE
            });
            entry.reply = reply;
            let usage = entry.usage.unwrap_or_default();
            let model = body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("mock-model");
            // Chat Completions, Responses and Anthropic say in the body whether to stream; the
            // Gemini route says it in the path.
            let stream = match p {
                Protocol::Gemini => *stream,
                _ => body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            };
            match p {
                Protocol::Responses => responses(out, shared, model, &turn, usage, stream),
                Protocol::ChatCompletions => chat(out, shared, model, &turn, usage, stream),
                Protocol::Anthropic => anthropic(out, shared, model, &turn, usage, stream),
                Protocol::Gemini => gemini(out, shared, &turn, usage, stream),
            }
        }
    }
}

/// An error body shaped like the protocol's own, so each CLI parses the message and status.
fn error_body(protocol: Option<Protocol>, status: u16, message: &str) -> Value {
    let auth = status == 401 || status == 403;
    match protocol {
        Some(Protocol::Anthropic) => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                400 | 404 => "invalid_request_error",
                _ => "api_error",
            };
            json!({ "type": "error", "error": { "type": kind, "message": message } })
        }
        Some(Protocol::Gemini) => {
            let kind = match status {
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                429 => "RESOURCE_EXHAUSTED",
                400 => "INVALID_ARGUMENT",
                404 => "NOT_FOUND",
                _ => "INTERNAL",
            };
            json!({ "error": { "code": status, "message": message, "status": kind } })
        }
        _ => {
            let (kind, code) = match status {
                _ if auth => ("invalid_request_error", "invalid_api_key"),
                429 => ("rate_limit_error", "rate_limit_exceeded"),
                400..=499 => ("invalid_request_error", "invalid_request"),
                _ => ("server_error", "server_error"),
            };
            json!({ "error": { "message": message, "type": kind, "code": code, "param": null } })
        }
    }
}

/// The model's move for one request.
enum Turn {
    /// Call this tool with these arguments.
    Call(String, Value),
    /// Answer with this text.
    Text(String),
}

fn tool_names(protocol: Protocol, body: &Value) -> Vec<String> {
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let name = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    match protocol {
        // Responses: `{type:"function", name}`, `{type:"custom", name}`, or built-ins such as
        // `{type:"web_search"}` which carry only a type.
        Protocol::Responses => tools
            .iter()
            .filter_map(|t| name(t, "name").or_else(|| name(t, "type")))
            .collect(),
        Protocol::ChatCompletions => tools
            .iter()
            .filter_map(|t| t.get("function").and_then(|f| name(f, "name")))
            .collect(),
        Protocol::Anthropic => tools.iter().filter_map(|t| name(t, "name")).collect(),
        Protocol::Gemini => tools
            .iter()
            .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
            .flatten()
            .filter_map(|f| name(f, "name"))
            .collect(),
    }
}

/// Whether the conversation already carries a tool result (the write happened: turn 2).
fn has_tool_result(protocol: Protocol, body: &Value) -> bool {
    let items = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let typed = |v: &Value, kinds: &[&str]| {
        v.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| kinds.contains(&t))
    };
    match protocol {
        Protocol::Responses => items("input")
            .iter()
            .any(|i| typed(i, &["function_call_output", "custom_tool_call_output"])),
        Protocol::ChatCompletions => items("messages")
            .iter()
            .any(|m| m.get("role").and_then(Value::as_str) == Some("tool")),
        Protocol::Anthropic => items("messages").iter().any(|m| {
            m.get("content")
                .and_then(Value::as_array)
                .is_some_and(|blocks| blocks.iter().any(|b| typed(b, &["tool_result"])))
        }),
        Protocol::Gemini => items("contents").iter().any(|c| {
            c.get("parts")
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()))
        }),
    }
}

/// POSIX single quoting: the content reaches the file byte for byte.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The arguments for the first file-writing tool offered, else the first shell tool.
fn pick_tool(tools: &[String], script: &MockScript) -> Option<(String, Value)> {
    let path = script.file_path.as_str();
    let content = script.file_content.as_str();
    let sh = format!("printf %s {} > {}", shell_quote(content), shell_quote(path));
    // Ordered by preference: a dedicated write tool is what each CLI's own model would use.
    let table = [
        ("Write", json!({ "file_path": path, "content": content })), // claude
        ("write", json!({ "filePath": path, "content": content })),  // opencode
        (
            "write_file",
            json!({ "file_path": path, "content": content }),
        ), // gemini
        (
            "exec_command",
            json!({ "cmd": sh, "yield_time_ms": 10_000 }),
        ), // codex
        (
            "shell",
            json!({ "command": ["bash", "-lc", sh], "timeout_ms": 10_000 }),
        ), // older codex
        ("shell_command", json!({ "command": sh })),
        (
            "Bash",
            json!({ "command": sh, "description": "Write the file" }),
        ),
        (
            "bash",
            json!({ "command": sh, "description": "Write the file" }),
        ),
        ("run_shell_command", json!({ "command": sh })),
    ];
    table
        .into_iter()
        .find(|(name, _)| tools.iter().any(|t| t == name))
        .map(|(name, args)| (name.to_string(), args))
}

/// The planning or review move, when the request is one (see the module doc); `None` for a
/// step to execute and for helper calls, which the execution script answers.
fn decide_phase(
    protocol: Protocol,
    raw: &[u8],
    body: &Value,
    tools: &[String],
    phases: &PhaseScript,
) -> Option<(Turn, Reply)> {
    if tools.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(raw);
    if text.contains(PLANNING_MARKER) {
        let schema_tool = tools
            .iter()
            .find(|t| *t == "StructuredOutput" || *t == "structured_output");
        return Some(match schema_tool {
            // After the schema tool's result the CLI wants a closing message.
            Some(_) if has_tool_result(protocol, body) => {
                (Turn::Text(phases.plan.to_string()), Reply::PlanText)
            }
            Some(tool) => (
                Turn::Call(tool.clone(), phases.plan.clone()),
                Reply::PlanTool(tool.clone()),
            ),
            None => (Turn::Text(phases.plan.to_string()), Reply::PlanText),
        });
    }
    if text.contains(REVIEW_MARKER) {
        return Some((Turn::Text(phases.review.clone()), Reply::Review));
    }
    None
}

fn decide(protocol: Protocol, body: &Value, tools: &[String], script: &MockScript) -> Turn {
    if tools.is_empty() {
        return Turn::Text(PLAIN_TEXT.to_string());
    }
    if has_tool_result(protocol, body) {
        return Turn::Text(script.final_text.clone());
    }
    match pick_tool(tools, script) {
        Some((name, args)) => Turn::Call(name, args),
        // Said plainly so a test failure shows which tools a new CLI version offers.
        None => Turn::Text(format!("mock: no file-writing tool among {tools:?}")),
    }
}

fn responses(
    out: &mut impl Write,
    shared: &Shared,
    model: &str,
    turn: &Turn,
    u: ReportedUsage,
    stream: bool,
) -> std::io::Result<()> {
    let usage = json!({
        "input_tokens": u.input,
        "input_tokens_details": { "cached_tokens": u.cached },
        "output_tokens": u.output,
        "output_tokens_details": { "reasoning_tokens": u.reasoning },
        "total_tokens": u.input + u.output,
    });
    let id = shared.next_id("resp_");
    let item = match turn {
        Turn::Call(name, args) => json!({
            "type": "function_call", "id": shared.next_id("fc_"), "call_id": shared.next_id("call_"),
            "name": name, "arguments": args.to_string(), "status": "completed",
        }),
        Turn::Text(text) => json!({
            "type": "message", "id": shared.next_id("msg_"), "role": "assistant",
            "status": "completed",
            "content": [{ "type": "output_text", "text": text, "annotations": [] }],
        }),
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": 0, "status": status, "model": model,
            "output": output, "usage": usage,
        })
    };
    if !stream {
        return write_json(out, 200, &response("completed", json!([item]), usage));
    }
    let mut sse = Sse::start(out)?;
    let mut seq = 0u64;
    let mut ev = |sse: &mut Sse<'_, _>, kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        sse.event(Some(kind), &data)
    };
    let started = response("in_progress", json!([]), Value::Null);
    ev(&mut sse, "response.created", json!({ "response": started }))?;
    ev(
        &mut sse,
        "response.in_progress",
        json!({ "response": started }),
    )?;
    let item_id = item["id"].clone();
    match turn {
        Turn::Call(..) => {
            let mut added = item.clone();
            added["arguments"] = json!("");
            added["status"] = json!("in_progress");
            let arguments = item["arguments"].clone();
            ev(
                &mut sse,
                "response.output_item.added",
                json!({ "output_index": 0, "item": added }),
            )?;
            let delta = json!({ "item_id": item_id, "output_index": 0, "delta": arguments });
            ev(&mut sse, "response.function_call_arguments.delta", delta)?;
            let done = json!({ "item_id": item_id, "output_index": 0, "arguments": arguments });
            ev(&mut sse, "response.function_call_arguments.done", done)?;
        }
        Turn::Text(text) => {
            let mut added = item.clone();
            added["content"] = json!([]);
            added["status"] = json!("in_progress");
            ev(
                &mut sse,
                "response.output_item.added",
                json!({ "output_index": 0, "item": added }),
            )?;
            let at = |extra: Value| {
                let mut v = json!({ "item_id": item_id, "output_index": 0, "content_index": 0 });
                if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                    v.extend(extra.clone());
                }
                v
            };
            let empty = json!({ "type": "output_text", "text": "", "annotations": [] });
            ev(
                &mut sse,
                "response.content_part.added",
                at(json!({ "part": empty })),
            )?;
            ev(
                &mut sse,
                "response.output_text.delta",
                at(json!({ "delta": text })),
            )?;
            ev(
                &mut sse,
                "response.output_text.done",
                at(json!({ "text": text })),
            )?;
            let part = item["content"][0].clone();
            ev(
                &mut sse,
                "response.content_part.done",
                at(json!({ "part": part })),
            )?;
        }
    }
    ev(
        &mut sse,
        "response.output_item.done",
        json!({ "output_index": 0, "item": item }),
    )?;
    let done = response("completed", json!([item]), usage);
    ev(&mut sse, "response.completed", json!({ "response": done }))
}

fn chat(
    out: &mut impl Write,
    shared: &Shared,
    model: &str,
    turn: &Turn,
    u: ReportedUsage,
    stream: bool,
) -> std::io::Result<()> {
    let usage = json!({
        "prompt_tokens": u.input,
        "prompt_tokens_details": { "cached_tokens": u.cached },
        "completion_tokens": u.output,
        "completion_tokens_details": { "reasoning_tokens": u.reasoning },
        "total_tokens": u.input + u.output,
    });
    let id = shared.next_id("chatcmpl-");
    let call = |turn: &Turn| match turn {
        Turn::Call(name, args) => json!([{
            "index": 0, "id": shared.next_id("call_"), "type": "function",
            "function": { "name": name, "arguments": args.to_string() },
        }]),
        Turn::Text(_) => Value::Null,
    };
    let finish = if matches!(turn, Turn::Call(..)) {
        "tool_calls"
    } else {
        "stop"
    };
    if !stream {
        let mut message = json!({ "role": "assistant", "content": null });
        match turn {
            Turn::Call(..) => message["tool_calls"] = call(turn),
            Turn::Text(text) => message["content"] = json!(text),
        }
        let choice = json!({ "index": 0, "message": message, "finish_reason": finish });
        let body = json!({
            "id": id, "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": usage,
        });
        return write_json(out, 200, &body);
    }
    let chunk = |choices: Value, usage: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": choices,
        });
        if !usage.is_null() {
            c["usage"] = usage;
        }
        c
    };
    let delta =
        |d: Value, finish: Value| json!([{ "index": 0, "delta": d, "finish_reason": finish }]);
    let mut sse = Sse::start(out)?;
    sse.event(
        None,
        &chunk(
            delta(json!({ "role": "assistant", "content": "" }), Value::Null),
            Value::Null,
        ),
    )?;
    match turn {
        Turn::Call(..) => sse.event(
            None,
            &chunk(
                delta(json!({ "tool_calls": call(turn) }), Value::Null),
                Value::Null,
            ),
        )?,
        Turn::Text(text) => sse.event(
            None,
            &chunk(delta(json!({ "content": text }), Value::Null), Value::Null),
        )?,
    }
    sse.event(None, &chunk(delta(json!({}), json!(finish)), Value::Null))?;
    // The usage chunk that `stream_options.include_usage` asks for: no choices.
    sse.event(None, &chunk(json!([]), usage))?;
    sse.raw("[DONE]")
}

fn anthropic(
    out: &mut impl Write,
    shared: &Shared,
    model: &str,
    turn: &Turn,
    u: ReportedUsage,
    stream: bool,
) -> std::io::Result<()> {
    // Anthropic's input_tokens excludes cache reads; output_tokens includes thinking, which the
    // thinking-token-count beta (claude sends it) also reports apart.
    let usage = json!({
        "input_tokens": u.input - u.cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
        "output_tokens": u.output,
        "output_tokens_details": { "thinking_tokens": u.reasoning },
    });
    let id = shared.next_id("msg_");
    let (block, stop) = match turn {
        Turn::Call(name, args) => (
            json!({ "type": "tool_use", "id": shared.next_id("toolu_"), "name": name, "input": args }),
            "tool_use",
        ),
        Turn::Text(text) => (json!({ "type": "text", "text": text }), "end_turn"),
    };
    if !stream {
        let body = json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [block], "stop_reason": stop, "stop_sequence": null, "usage": usage,
        });
        return write_json(out, 200, &body);
    }
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let mut sse = Sse::start(out)?;
    let message = json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": start_usage,
    });
    sse.event(
        Some("message_start"),
        &json!({ "type": "message_start", "message": message }),
    )?;
    let (empty, delta) = match turn {
        Turn::Call(_, args) => {
            let mut empty = block.clone();
            empty["input"] = json!({});
            (
                empty,
                json!({ "type": "input_json_delta", "partial_json": args.to_string() }),
            )
        }
        Turn::Text(text) => (
            json!({ "type": "text", "text": "" }),
            json!({ "type": "text_delta", "text": text }),
        ),
    };
    let start = json!({ "type": "content_block_start", "index": 0, "content_block": empty });
    sse.event(Some("content_block_start"), &start)?;
    let delta = json!({ "type": "content_block_delta", "index": 0, "delta": delta });
    sse.event(Some("content_block_delta"), &delta)?;
    sse.event(
        Some("content_block_stop"),
        &json!({ "type": "content_block_stop", "index": 0 }),
    )?;
    let end = json!({
        "type": "message_delta",
        "delta": { "stop_reason": stop, "stop_sequence": null },
        "usage": usage,
    });
    sse.event(Some("message_delta"), &end)?;
    sse.event(Some("message_stop"), &json!({ "type": "message_stop" }))
}

fn gemini(
    out: &mut impl Write,
    shared: &Shared,
    turn: &Turn,
    u: ReportedUsage,
    stream: bool,
) -> std::io::Result<()> {
    let part = match turn {
        Turn::Call(name, args) => json!({ "functionCall": { "name": name, "args": args } }),
        Turn::Text(text) => json!({ "text": text }),
    };
    // Gemini's candidatesTokenCount excludes thoughts; promptTokenCount includes cached content.
    let body = json!({
        "candidates": [{
            "content": { "role": "model", "parts": [part] },
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": u.input,
            "cachedContentTokenCount": u.cached,
            "candidatesTokenCount": u.output - u.reasoning,
            "thoughtsTokenCount": u.reasoning,
            "totalTokenCount": u.input + u.output,
        },
        "modelVersion": "mock-model",
        "responseId": shared.next_id("gem_"),
    });
    if !stream {
        return write_json(out, 200, &body);
    }
    let mut sse = Sse::start(out)?;
    sse.event(None, &body)
}

// The server's own tests: a minimal HTTP client drives each protocol through both turns, the
// helper call, the injected statuses and the shutdown.

/// Sends raw bytes and returns the whole response (the server closes every connection).
fn exchange(port: u16, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to mock");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(raw).expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

/// Sends one request; returns the status and the body.
fn send(port: u16, raw: &[u8]) -> (u16, String) {
    let response = exchange(port, raw);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(port: u16, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer sk-test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send(port, raw.as_bytes())
}

/// The `data:` payloads of an SSE body, parsed as JSON (`[DONE]` is skipped).
fn sse_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
        .collect()
}

fn test_script(status: Option<u16>) -> MockScript {
    MockScript {
        file_path: "/tmp/w/it's here.txt".into(),
        file_content: "line 1\nit's $(not run)\n".into(),
        final_text: "All done.".into(),
        status,
    }
}

#[test]
fn mock_responses_protocol_calls_a_tool_then_answers() {
    let mock = MockLlm::start(test_script(None));
    let tools = json!([{ "type": "web_search" }, { "type": "function", "name": "exec_command" }]);
    let user = json!({ "type": "message", "role": "user", "content": [] });
    let (status, body) = post(
        mock.port(),
        "/v1/responses",
        &json!({ "stream": true, "tools": tools, "input": [user] }),
    );
    assert_eq!(status, 200);
    let events = sse_data(&body);
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .expect("item");
    assert_eq!(done["item"]["name"], "exec_command");
    let args: Value = serde_json::from_str(done["item"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args["cmd"],
        r#"printf %s 'line 1
it'\''s $(not run)
' > '/tmp/w/it'\''s here.txt'"#
    );
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(
        completed["response"]["usage"]["input_tokens"],
        AGENT_USAGE.input
    );
    assert_eq!(
        completed["response"]["usage"]["input_tokens_details"]["cached_tokens"],
        AGENT_USAGE.cached
    );
    assert_eq!(
        completed["response"]["usage"]["output_tokens_details"]["reasoning_tokens"],
        AGENT_USAGE.reasoning
    );

    let output = json!({ "type": "function_call_output", "call_id": "c", "output": "ok" });
    let body = json!({ "stream": true, "tools": tools, "input": [user, output] });
    let (_, text) = post(mock.port(), "/v1/responses", &body);
    let events = sse_data(&text);
    let delta = events
        .iter()
        .find(|e| e["type"] == "response.output_text.delta")
        .unwrap();
    assert_eq!(delta["delta"], "All done.");

    let calls = mock.model_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].reply, Reply::ToolCall("exec_command".into()));
    assert_eq!(calls[1].reply, Reply::FinalText);
    assert_eq!(calls[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(calls[0].json().unwrap()["stream"], true);
    assert_eq!(mock.agent_usage(), AGENT_USAGE + AGENT_USAGE);
}

#[test]
fn mock_chat_protocol_answers_helper_calls_and_reports_usage_last() {
    let mock = MockLlm::start(test_script(None));
    let tools = json!([{ "type": "function", "function": { "name": "bash" } },
                       { "type": "function", "function": { "name": "write" } }]);
    let user = json!({ "role": "user", "content": "go" });
    let (_, body) = post(
        mock.port(),
        "/v1/chat/completions",
        &json!({ "stream": true, "messages": [user] }),
    );
    let chunks = sse_data(&body);
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], PLAIN_TEXT);
    assert_eq!(
        chunks.last().unwrap()["usage"]["prompt_tokens"],
        HELPER_USAGE.input
    );
    assert!(body.trim_end().ends_with("data: [DONE]"));

    let req = json!({ "stream": true, "tools": tools, "messages": [user] });
    let (_, body) = post(mock.port(), "/v1/chat/completions", &req);
    let chunks = sse_data(&body);
    let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "write");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args,
        json!({ "filePath": "/tmp/w/it's here.txt", "content": "line 1\nit's $(not run)\n" })
    );
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], AGENT_USAGE.output);
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"],
        AGENT_USAGE.cached
    );

    let tool = json!({ "role": "tool", "tool_call_id": "c", "content": "ok" });
    let req = json!({ "stream": false, "tools": tools, "messages": [user, tool] });
    let (_, body) = post(mock.port(), "/v1/chat/completions", &req);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "All done.");

    let replies: Vec<Reply> = mock.model_calls().into_iter().map(|r| r.reply).collect();
    assert_eq!(
        replies,
        [
            Reply::PlainText,
            Reply::ToolCall("write".into()),
            Reply::FinalText
        ]
    );
    assert_eq!(mock.total_usage(), HELPER_USAGE + AGENT_USAGE + AGENT_USAGE);
    assert_eq!(mock.agent_usage(), AGENT_USAGE + AGENT_USAGE);
}

#[test]
fn mock_anthropic_protocol_accepts_a_system_message_and_a_chunked_body() {
    let mock = MockLlm::start(test_script(None));
    let tools = json!([{ "name": "Bash" }, { "name": "Write" }]);
    // claude puts a `system` message inside `messages[]`; it must not confuse the script.
    let msgs = json!([{ "role": "user", "content": "go" }, { "role": "system", "content": "env" }]);
    let body = json!({ "stream": true, "tools": tools, "messages": msgs }).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let raw = format!(
        "POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         Expect: 100-continue\r\n\r\n{:x}\r\n{head}\r\n{:x};ext=1\r\n{tail}\r\n0\r\n\r\n",
        head.len(),
        tail.len()
    );
    let (status, body) = send(mock.port(), raw.as_bytes());
    assert_eq!(status, 100, "the interim 100 Continue comes first");
    let events = sse_data(&body);
    assert_eq!(events[0]["type"], "message_start");
    assert_eq!(events[1]["content_block"]["name"], "Write");
    let input: Value =
        serde_json::from_str(events[2]["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(input["file_path"], "/tmp/w/it's here.txt");
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta["usage"]["input_tokens"],
        AGENT_USAGE.input - AGENT_USAGE.cached
    );
    assert_eq!(
        delta["usage"]["cache_read_input_tokens"],
        AGENT_USAGE.cached
    );
    assert_eq!(delta["usage"]["output_tokens"], AGENT_USAGE.output);
    assert_eq!(
        delta["usage"]["output_tokens_details"]["thinking_tokens"],
        AGENT_USAGE.reasoning
    );
    assert!(
        mock.requests()[0].body.contains("\"Write\""),
        "the chunked body was reassembled"
    );

    let result = json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "content": "ok" }] });
    let req = json!({ "stream": true, "tools": tools, "messages": [msgs[0], result] });
    let (_, body) = post(mock.port(), "/v1/messages?beta=true", &req);
    let events = sse_data(&body);
    assert_eq!(events[2]["delta"]["text"], "All done.");
    assert_eq!(events.last().unwrap()["type"], "message_stop");
}

#[test]
fn mock_gemini_protocol_streams_and_answers_non_streaming_calls() {
    let mock = MockLlm::start(test_script(None));
    let tools = json!([{ "functionDeclarations": [{ "name": "run_shell_command" }, { "name": "write_file" }] }]);
    let user = json!({ "role": "user", "parts": [{ "text": "go" }] });
    let path = "/v1beta/models/mock-model:streamGenerateContent?alt=sse";
    let (_, body) = post(
        mock.port(),
        path,
        &json!({ "tools": tools, "contents": [user] }),
    );
    let events = sse_data(&body);
    let part = &events[0]["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "write_file");
    assert_eq!(
        part["functionCall"]["args"]["content"],
        "line 1\nit's $(not run)\n"
    );
    let meta = &events[0]["usageMetadata"];
    assert_eq!(meta["promptTokenCount"], AGENT_USAGE.input);
    assert_eq!(
        meta["candidatesTokenCount"],
        AGENT_USAGE.output - AGENT_USAGE.reasoning
    );
    assert_eq!(meta["thoughtsTokenCount"], AGENT_USAGE.reasoning);

    let result =
        json!({ "role": "user", "parts": [{ "functionResponse": { "name": "write_file" } }] });
    let (_, body) = post(
        mock.port(),
        path,
        &json!({ "tools": tools, "contents": [user, result] }),
    );
    assert_eq!(
        sse_data(&body)[0]["candidates"][0]["content"]["parts"][0]["text"],
        "All done."
    );

    let path = "/v1beta/models/mock-model:generateContent";
    let (status, body) = post(mock.port(), path, &json!({ "contents": [user] }));
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        PLAIN_TEXT
    );
    assert_eq!(mock.model_calls()[2].reply, Reply::PlainText);
}

#[test]
fn mock_injects_protocol_shaped_errors_and_routes_the_rest() {
    let mock = MockLlm::start(test_script(Some(401)));
    let (status, body) = post(mock.port(), "/v1/messages", &json!({ "messages": [] }));
    assert_eq!(status, 401);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    let (_, body) = post(mock.port(), "/v1/responses", &json!({ "input": [] }));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "invalid_api_key"
    );
    assert_eq!(mock.requests()[0].reply, Reply::InjectedStatus(401));
    assert_eq!(mock.requests()[0].usage, None);

    let mock = MockLlm::start(test_script(Some(500)));
    let response = exchange(mock.port(), b"POST /v1/chat/completions HTTP/1.1\r\n\r\n");
    let head = response.split("\r\n\r\n").next().unwrap();
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert!(
        head.contains("\r\nRetry-After-Ms: 0\r\n"),
        "a 5xx asks for an immediate retry"
    );
    let path = "/v1beta/models/m:streamGenerateContent?alt=sse";
    let (status, body) = post(mock.port(), path, &json!({ "contents": [] }));
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["status"],
        "INTERNAL"
    );

    let mock = MockLlm::start(test_script(None));
    let (status, _) = post(mock.port(), "/v1/nowhere", &json!({}));
    assert_eq!(status, 404);
    let (status, _) = send(
        mock.port(),
        b"POST /v1/responses HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}",
    );
    assert_eq!(status, 400);
    let (status, body) = send(mock.port(), b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("mock-model"));
    let replies: Vec<Reply> = mock.requests().into_iter().map(|r| r.reply).collect();
    assert_eq!(
        replies,
        [Reply::Other(404), Reply::Other(400), Reply::Other(200)]
    );
    assert!(mock.summary().contains("GET /v1/models"));
}

#[test]
fn mock_drop_closes_idle_connections_and_the_port() {
    let mock = MockLlm::start(test_script(None));
    let port = mock.port();
    assert_eq!(mock.base_url(), format!("http://127.0.0.1:{port}"));
    // A client that connects and never sends: its server thread must not keep Drop waiting.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The connection is registered once the server has accepted it; a round trip on another
    // connection proves the accept loop went past it.
    assert_eq!(post(port, "/v1/nowhere", &json!({})).0, 404);
    drop(mock);
    let mut buf = [0u8; 1];
    assert_eq!(
        idle.read(&mut buf).unwrap_or(0),
        0,
        "the idle connection was closed"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after drop"
    );
    assert!(TcpStream::connect(("127.0.0.1", closed_port())).is_err());
}

#[test]
fn mock_protocol_plans_through_the_schema_tool_or_as_text_and_reviews() {
    let plan = json!({ "plan": "p", "steps": [{ "filename": "01-a.md", "content": "# A\n" }] });
    let mock = MockLlm::start_protocol(
        test_script(None),
        PhaseScript {
            plan: plan.clone(),
            review: "Fine.\nVerdict: PASS".into(),
        },
    );
    let planning = json!({ "role": "user", "content": format!("{PLANNING_MARKER} on x") });
    // claude: the StructuredOutput tool carries the plan, then a closing text.
    let tools = json!([{ "name": "Read" }, { "name": "StructuredOutput" }]);
    let (_, body) = post(
        mock.port(),
        "/v1/messages",
        &json!({ "stream": true, "tools": tools, "messages": [planning] }),
    );
    let events = sse_data(&body);
    assert_eq!(events[1]["content_block"]["name"], "StructuredOutput");
    let input: Value =
        serde_json::from_str(events[2]["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(input, plan);
    let result = json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "content": "ok" }] });
    let req = json!({ "stream": false, "tools": tools, "messages": [planning, result] });
    let (_, body) = post(mock.port(), "/v1/messages", &req);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(body["content"][0]["text"].as_str().unwrap()).unwrap(),
        plan
    );
    // Without a schema tool (codex, opencode, gemini): the plan as JSON text, no tool call.
    let tools = json!([{ "type": "function", "function": { "name": "write" } }]);
    let req = json!({ "stream": false, "tools": tools, "messages": [planning] });
    let (_, body) = post(mock.port(), "/v1/chat/completions", &req);
    let body: Value = serde_json::from_str(&body).unwrap();
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), plan);
    // A review gets the verdict and never a tool call, even with a write tool offered.
    let review = json!({ "role": "user", "content": format!("{REVIEW_MARKER} of a") });
    let req = json!({ "stream": false, "tools": tools, "messages": [review] });
    let (_, body) = post(mock.port(), "/v1/chat/completions", &req);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .ends_with("Verdict: PASS")
    );
    // Anything else is a step to execute: the write tool.
    let step = json!({ "role": "user", "content": "Implement step 01-a" });
    let req = json!({ "stream": false, "tools": tools, "messages": [step] });
    post(mock.port(), "/v1/chat/completions", &req);
    let replies: Vec<Reply> = mock.model_calls().into_iter().map(|r| r.reply).collect();
    assert_eq!(
        replies,
        [
            Reply::PlanTool("StructuredOutput".into()),
            Reply::PlanText,
            Reply::PlanText,
            Reply::Review,
            Reply::ToolCall("write".into())
        ]
    );
}
