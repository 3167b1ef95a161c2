//! Model providers: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, llama.cpp's
//! server, vLLM) and Anthropic's Messages API, behind one streaming [`Provider::complete`].
//!
//! A call streams the answer, hands each text delta to the caller as it arrives, and assembles
//! the tool calls. Transient failures (429, 5xx, timeouts, broken connections) are retried with
//! exponential backoff and jitter, honouring `Retry-After` — but only until the first piece of
//! text has reached the caller: the CLI prints deltas as they come, so a retry after that would
//! print the answer twice and hand the loop a response that disagrees with what the person saw.

mod anthropic;
mod config;
mod openai;
mod sse;

pub use config::{
    how_to_configure, ProviderFlags, CONFIG_FILE, DEFAULT_ANTHROPIC_MODEL, DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT,
};

use crate::conversation::{ChatRequest, ChatResponse};
use futures_util::StreamExt;
use serde_json::Value;
use sse::SseDecoder;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for a TCP (and TLS) connection before calling the endpoint unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts, whatever `Retry-After` asks for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// The first backoff; it doubles with each further attempt.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// How much of an error body an error keeps: enough to read the server's reason.
const MAX_ERROR_BODY_CHARS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions endpoint: OpenAI, Ollama, llama.cpp's server,
    /// vLLM, LM Studio, …
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderKind::OpenAi => "OpenAI",
            ProviderKind::Anthropic => "Anthropic",
        })
    }
}

/// Everything needed to reach one model. Build it with [`ProviderConfig::resolve`] (flags,
/// environment, config file) or [`ProviderConfig::new`] (tests, embedding).
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Without a trailing slash: `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`,
    /// `https://api.anthropic.com`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// The longest silence tolerated: before the response starts, and then between two pieces
    /// of the stream. Not a bound on the whole answer, which a slow local model may take
    /// minutes to write; the agent's time budget bounds that.
    pub request_timeout: Duration,
    /// Further attempts after the first.
    pub max_retries: u32,
    /// Send `tool_choice: auto` when tools are given. Small models use tools far more reliably
    /// with it; a server that refuses it is retried once without it anyway.
    pub send_tool_choice: bool,
}

impl ProviderConfig {
    /// A configuration with the default timeout, retries and tool choice.
    pub fn new(
        kind: ProviderKind,
        base_url: impl Into<String>,
        model: impl Into<String>,
    ) -> ProviderConfig {
        ProviderConfig {
            kind,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            model: model.into(),
            api_key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            send_tool_choice: true,
        }
    }

    /// The URL a request goes to.
    pub fn endpoint(&self) -> String {
        match self.kind {
            ProviderKind::OpenAi => format!("{}/chat/completions", self.base_url),
            // `https://api.anthropic.com` and `https://api.anthropic.com/v1` both work.
            ProviderKind::Anthropic if self.base_url.ends_with("/v1") => {
                format!("{}/messages", self.base_url)
            }
            ProviderKind::Anthropic => format!("{}/v1/messages", self.base_url),
        }
    }

    /// One line for the terminal: which model at which endpoint.
    pub fn describe(&self) -> String {
        format!("{} at {} ({})", self.model, self.base_url, self.kind)
    }
}

/// Written by hand so that printing a configuration never prints its key.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("send_tool_choice", &self.send_tool_choice)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No provider, or an unusable one; `how` starts with the reason and goes on with how to
    /// configure one.
    #[error("{how}")]
    NotConfigured { how: String },
    #[error(
        "no API key for {provider}: set {variable} (or PLINTH_LLM_API_KEY, or pass --api-key)"
    )]
    MissingKey { provider: String, variable: String },
    #[error("cannot reach the model at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The endpoint answered with an error status; `body` is the start of what it said.
    #[error("{}", describe_status(*status, body))]
    Status { status: u16, body: String },
    #[error("the model endpoint went silent for {} s", after.as_secs_f32())]
    Timeout { after: Duration },
    #[error("the model endpoint answered something unexpected: {0}")]
    Protocol(String),
    #[error("gave up after {attempts} attempts; the last one failed: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<ProviderError>,
    },
}

impl ProviderError {
    /// Whether waiting and trying again may help: rate limits, server errors, timeouts and
    /// broken connections.
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            ProviderError::Timeout { .. } | ProviderError::Unreachable { .. } => true,
            ProviderError::GaveUp { .. }
            | ProviderError::NotConfigured { .. }
            | ProviderError::MissingKey { .. }
            | ProviderError::Protocol(_) => false,
        }
    }

    /// The error behind the retries.
    pub fn root(&self) -> &ProviderError {
        match self {
            ProviderError::GaveUp { last, .. } => last.root(),
            other => other,
        }
    }
}

fn describe_status(status: u16, body: &str) -> String {
    let said = server_message(body);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    match status {
        401 | 403 => format!(
            "the endpoint refused the API key (HTTP {status}){said}; check PLINTH_LLM_API_KEY \
             (or OPENAI_API_KEY / ANTHROPIC_API_KEY) and that the key belongs to this endpoint"
        ),
        404 => format!(
            "the endpoint answered HTTP 404{said}; check the base URL (OpenAI-compatible servers \
             usually end in /v1) and the model name"
        ),
        429 => format!("the endpoint is rate limiting (HTTP 429){said}"),
        529 => format!("the model is overloaded (HTTP 529){said}"),
        500..=599 => format!("the model endpoint failed (HTTP {status}){said}"),
        _ => format!("the model endpoint refused the request (HTTP {status}){said}"),
    }
}

/// The human part of an error body: `error.message` (both providers) or the text itself.
fn server_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|value| {
        value
            .pointer("/error/message")
            .or_else(|| value.get("error").filter(|error| error.is_string()))
            .or_else(|| value.get("message"))
            .or_else(|| value.get("detail"))
            .and_then(Value::as_str)
    });
    message.unwrap_or(body).trim().to_string()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A retry about to happen, for a caller that wants to say so ("rate limited, retrying in 2 s").
#[derive(Clone, Debug)]
pub struct RetryNotice {
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// Attempts allowed in all.
    pub attempts: u32,
    pub wait: Duration,
    pub error: String,
}

pub type RetryObserver = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// Optional request fields some servers refuse. Each is dropped for good, and the request sent
/// again at once, the first time a server answers 400/422 naming it.
#[derive(Debug, Default)]
struct Leniency {
    /// Some servers cannot stream an answer that may call tools (llama-cpp-python's
    /// `chatml-function-calling` fails mid-request); those get `stream: false`.
    no_stream: AtomicBool,
    no_tool_choice: AtomicBool,
    no_stream_options: AtomicBool,
    no_temperature: AtomicBool,
}

/// What a request body may carry, given the configuration and what the server has refused.
#[derive(Clone, Copy, Debug)]
struct Allowed {
    stream: bool,
    tool_choice: bool,
    stream_options: bool,
    temperature: bool,
}

impl Leniency {
    fn allowed(&self, config: &ProviderConfig) -> Allowed {
        Allowed {
            stream: !self.no_stream.load(Ordering::Relaxed),
            tool_choice: config.send_tool_choice && !self.no_tool_choice.load(Ordering::Relaxed),
            stream_options: !self.no_stream_options.load(Ordering::Relaxed),
            temperature: !self.no_temperature.load(Ordering::Relaxed),
        }
    }

    /// Drops the field a 400/422 complains about; `true` if there was one still being sent.
    fn give_way(&self, error: &ProviderError, allowed: Allowed) -> bool {
        // A stream that ends before a single event of the answer, or a refusal naming `stream`,
        // is worth one try without streaming.
        let stream_refused = match error {
            ProviderError::Protocol(message) => message.contains("before the answer began"),
            ProviderError::Status {
                status: 400 | 422 | 500,
                body,
            } => body.to_ascii_lowercase().contains("stream"),
            _ => false,
        };
        if allowed.stream && stream_refused {
            self.no_stream.store(true, Ordering::Relaxed);
            return true;
        }
        let ProviderError::Status {
            status: 400 | 422,
            body,
        } = error
        else {
            return false;
        };
        let body = body.to_ascii_lowercase();
        let candidates = [
            (
                allowed.tool_choice,
                body.contains("tool_choice") || body.contains("tool choice"),
                &self.no_tool_choice,
            ),
            (
                allowed.stream_options,
                body.contains("stream_options"),
                &self.no_stream_options,
            ),
            (
                allowed.temperature,
                body.contains("temperature"),
                &self.no_temperature,
            ),
        ];
        let mut gave_way = false;
        for (sent, named, flag) in candidates {
            if sent && named {
                flag.store(true, Ordering::Relaxed);
                gave_way = true;
            }
        }
        gave_way
    }
}

/// A failed attempt, with what the retry loop needs to know about it.
#[derive(Debug)]
struct Failure {
    error: ProviderError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn transient(error: ProviderError) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    fn fatal(error: ProviderError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn protocol(message: impl Into<String>) -> Failure {
        Failure::fatal(ProviderError::Protocol(message.into()))
    }

    /// A stream that stopped before its end: the connection most likely broke, so try again.
    fn cut_short(message: impl Into<String>) -> Failure {
        Failure::transient(ProviderError::Protocol(message.into()))
    }

    fn status(status: u16, body: &str) -> Failure {
        let error = ProviderError::Status {
            status,
            body: truncate(body.trim(), MAX_ERROR_BODY_CHARS),
        };
        Failure {
            retryable: error.is_transient(),
            error,
            retry_after: None,
        }
    }
}

/// Whether a stream has reached its end marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    More,
    Done,
}

/// The state of one streamed answer, per wire format.
enum Assembly {
    OpenAi(openai::Assembly),
    Anthropic(anthropic::Assembly),
}

impl Assembly {
    fn new(kind: ProviderKind) -> Assembly {
        match kind {
            ProviderKind::OpenAi => Assembly::OpenAi(openai::Assembly::default()),
            ProviderKind::Anthropic => Assembly::Anthropic(anthropic::Assembly::default()),
        }
    }

    fn event(
        &mut self,
        event: &sse::SseEvent,
        emit: &mut dyn FnMut(&str),
    ) -> Result<Flow, Failure> {
        match self {
            Assembly::OpenAi(assembly) => assembly.event(&event.data, emit),
            Assembly::Anthropic(assembly) => assembly.event(event, emit),
        }
    }

    fn finish(self) -> Result<ChatResponse, Failure> {
        match self {
            Assembly::OpenAi(assembly) => assembly.finish(),
            Assembly::Anthropic(assembly) => assembly.finish(),
        }
    }
}

/// Tool-call arguments as the model sent them: JSON when they parse (nothing at all means no
/// arguments), otherwise the raw text as a `Value::String`, for the loop to repair.
fn parse_arguments(raw: &str) -> Value {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(trimmed).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// A connection to one model. Cheap to share behind an `Arc` between concurrent sub-agents.
pub struct Provider {
    config: ProviderConfig,
    client: reqwest::Client,
    leniency: Leniency,
    backoff: Duration,
    on_retry: Option<RetryObserver>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Result<Provider, ProviderError> {
        if config::host_of(&config.base_url).is_none() {
            return Err(ProviderError::NotConfigured {
                how: format!(
                    "the base URL `{}` is not an http:// or https:// URL\n\n{}",
                    config.base_url,
                    how_to_configure()
                ),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ProviderError::Protocol(format!("cannot start HTTP: {error}")))?;
        Ok(Provider {
            config,
            client,
            leniency: Leniency::default(),
            backoff: DEFAULT_BACKOFF,
            on_retry: None,
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The first wait between attempts (it doubles each time, with jitter). Tests shorten it.
    pub fn with_backoff(mut self, first_wait: Duration) -> Provider {
        self.backoff = first_wait;
        self
    }

    /// Called before each retry, to tell the person why the answer is late.
    pub fn with_retry_observer(mut self, observer: RetryObserver) -> Provider {
        self.on_retry = Some(observer);
        self
    }

    /// Streams the answer: `on_text` gets each text delta as it arrives (the CLI prints it), the
    /// returned response has the whole text, the tool calls (arguments parsed to JSON — if the
    /// model sent invalid JSON, the raw string is kept as `Value::String` so the loop can repair
    /// it), usage and stop reason.
    pub async fn complete(
        &self,
        request: &ChatRequest,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        let attempts = self.config.max_retries.saturating_add(1);
        let mut attempt = 0u32;
        let mut concessions = 0u32;
        loop {
            attempt += 1;
            let allowed = self.leniency.allowed(&self.config);
            let mut delivered = false;
            let failure = match self
                .attempt(request, allowed, on_text, &mut delivered)
                .await
            {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            // A refused optional field costs no attempt: the same request without it is a
            // different request, not a retry. At most one concession per field.
            if !delivered && concessions < 3 && self.leniency.give_way(&failure.error, allowed) {
                concessions += 1;
                attempt -= 1;
                continue;
            }
            if delivered || !failure.retryable || attempt >= attempts {
                return Err(if failure.retryable && attempt > 1 && !delivered {
                    ProviderError::GaveUp {
                        attempts: attempt,
                        last: Box::new(failure.error),
                    }
                } else {
                    failure.error
                });
            }
            let wait = self.wait_before_retry(attempt, failure.retry_after);
            if let Some(observer) = &self.on_retry {
                observer(&RetryNotice {
                    attempt,
                    attempts,
                    wait,
                    error: failure.error.to_string(),
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// `Retry-After` when the server gave one (capped), else exponential backoff; both with
    /// jitter, so concurrent sub-agents that failed together do not come back together.
    fn wait_before_retry(&self, failed_attempt: u32, retry_after: Option<Duration>) -> Duration {
        use rand::Rng;
        let mut random = rand::thread_rng();
        match retry_after {
            Some(asked) => {
                let asked = asked.min(MAX_RETRY_WAIT);
                asked + asked.mul_f64(random.gen_range(0.0..0.1))
            }
            None => {
                let doubling = 2u32.saturating_pow(failed_attempt.saturating_sub(1).min(16));
                let wait = self.backoff.saturating_mul(doubling).min(MAX_RETRY_WAIT);
                wait.mul_f64(random.gen_range(0.5..=1.0))
            }
        }
    }

    /// One request and its streamed answer. `delivered` turns true once `on_text` has had text.
    async fn attempt(
        &self,
        request: &ChatRequest,
        allowed: Allowed,
        on_text: &mut (dyn FnMut(&str) + Send),
        delivered: &mut bool,
    ) -> Result<ChatResponse, Failure> {
        let url = self.config.endpoint();
        let silence = self.config.request_timeout;
        let timed_out = || Failure::transient(ProviderError::Timeout { after: silence });
        let body = match self.config.kind {
            ProviderKind::OpenAi => openai::request_body(&self.config, request, allowed),
            ProviderKind::Anthropic => anthropic::request_body(&self.config, request, allowed),
        };
        let mut builder = self
            .client
            .post(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        builder = match (self.config.kind, &self.config.api_key) {
            (ProviderKind::OpenAi, Some(key)) => builder.bearer_auth(key),
            (ProviderKind::OpenAi, None) => builder,
            (ProviderKind::Anthropic, key) => {
                let builder = builder.header("anthropic-version", "2023-06-01");
                match key {
                    Some(key) => builder.header("x-api-key", key),
                    None => builder,
                }
            }
        };

        let response = match tokio::time::timeout(silence, builder.send()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(error)) => return Err(connection_failure(&url, &error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = retry_after(response.headers());
            let body = match tokio::time::timeout(silence, response.text()).await {
                Ok(Ok(body)) => body,
                _ => String::new(),
            };
            let mut failure = Failure::status(status, &body);
            failure.retry_after = retry_after;
            return Err(failure);
        }

        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut emit = |text: &str| {
            if !text.is_empty() {
                *delivered = true;
                on_text(text);
            }
        };
        let mut assembly = Assembly::new(self.config.kind);
        let mut decoder = SseDecoder::new();

        if !content_type.contains("event-stream") {
            // A server that ignored `stream: true` (older llama.cpp, some proxies) answers one
            // JSON object; anything else is read whole and decoded as SSE after all.
            let body = match tokio::time::timeout(silence, response.bytes()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(error)) => return Err(connection_failure(&url, &error)),
                Ok(Ok(body)) => body,
            };
            let text = String::from_utf8_lossy(&body);
            if content_type.contains("json") || text.trim_start().starts_with('{') {
                let value: Value = serde_json::from_str(&text).map_err(|error| {
                    Failure::protocol(format!(
                        "the answer is neither an event stream nor valid JSON ({error}): {}",
                        truncate(text.trim(), 200)
                    ))
                })?;
                return match self.config.kind {
                    ProviderKind::OpenAi => openai::whole(&value, &mut emit),
                    ProviderKind::Anthropic => anthropic::whole(&value, &mut emit),
                };
            }
            for event in decoder.push(&body).into_iter().chain(decoder.finish()) {
                if assembly.event(&event, &mut emit)? == Flow::Done {
                    break;
                }
            }
            return assembly.finish();
        }

        let mut stream = response.bytes_stream();
        'stream: loop {
            let chunk = match tokio::time::timeout(silence, stream.next()).await {
                Err(_) => return Err(timed_out()),
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(Failure::transient(ProviderError::Unreachable {
                        url: url.clone(),
                        detail: format!(
                            "the connection broke while the answer was streaming ({})",
                            innermost_cause(&error)
                        ),
                    }))
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            for event in decoder.push(&chunk) {
                if assembly.event(&event, &mut emit)? == Flow::Done {
                    break 'stream;
                }
            }
        }
        if let Some(event) = decoder.finish() {
            assembly.event(&event, &mut emit)?;
        }
        assembly.finish()
    }
}

fn connection_failure(url: &str, error: &reqwest::Error) -> Failure {
    let cause = innermost_cause(error);
    if error.is_builder() {
        return Failure::fatal(ProviderError::Unreachable {
            url: url.to_string(),
            detail: format!("the request cannot be sent: {cause}"),
        });
    }
    let detail = if error.is_connect() {
        if cause.to_ascii_lowercase().contains("refused") {
            format!("{cause} (is the server running, and on this port?)")
        } else if error.is_timeout() {
            format!(
                "no connection within {} s ({cause})",
                CONNECT_TIMEOUT.as_secs()
            )
        } else {
            cause
        }
    } else {
        cause
    };
    Failure::transient(ProviderError::Unreachable {
        url: url.to_string(),
        detail,
    })
}

/// The most specific message in an error's chain ("Connection refused (os error 111)").
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// `Retry-After` in seconds (OpenAI also sends `retry-after-ms`). The HTTP-date form is rare
/// from model APIs and falls back to backoff.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|value| value.is_finite() && *value >= 0.0)
    };
    header("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| header("retry-after").map(Duration::from_secs_f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_say_what_to_do() {
        let refused = ProviderError::Status {
            status: 401,
            body: r#"{"error":{"message":"Incorrect API key provided"}}"#.into(),
        };
        let text = refused.to_string();
        assert!(text.contains("refused the API key"), "{text}");
        assert!(text.contains("Incorrect API key provided"), "{text}");
        assert!(!refused.is_transient());
        let not_found = ProviderError::Status {
            status: 404,
            body: "404 page not found".into(),
        };
        assert!(not_found.to_string().contains("/v1"));
        assert!(ProviderError::Status {
            status: 529,
            body: String::new()
        }
        .is_transient());
    }

    #[test]
    fn error_bodies_are_truncated_on_a_character_boundary() {
        let long = "é".repeat(MAX_ERROR_BODY_CHARS + 50);
        let Failure {
            error: ProviderError::Status { body, .. },
            ..
        } = Failure::status(500, &long)
        else {
            panic!("not a status error");
        };
        assert_eq!(body.chars().count(), MAX_ERROR_BODY_CHARS + 1);
        assert!(body.ends_with('…'));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_retry_after_is_capped() {
        let provider = Provider::new(ProviderConfig::new(
            ProviderKind::OpenAi,
            "http://127.0.0.1:1/v1",
            "m",
        ))
        .unwrap()
        .with_backoff(Duration::from_millis(100));
        for _ in 0..50 {
            let third = provider.wait_before_retry(3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let asked = provider.wait_before_retry(1, Some(Duration::from_secs(2)));
            assert!(asked >= Duration::from_secs(2) && asked < Duration::from_millis(2200));
            let capped = provider.wait_before_retry(1, Some(Duration::from_secs(3600)));
            assert!(capped >= MAX_RETRY_WAIT && capped <= MAX_RETRY_WAIT.mul_f64(1.1));
            assert!(provider.wait_before_retry(40, None) <= MAX_RETRY_WAIT);
        }
    }

    #[test]
    fn invalid_arguments_are_kept_raw_for_the_loop_to_repair() {
        assert_eq!(parse_arguments(" "), serde_json::json!({}));
        assert_eq!(
            parse_arguments(r#"{"path": "a"}"#),
            serde_json::json!({"path": "a"})
        );
        assert_eq!(
            parse_arguments("{path: 'a'"),
            Value::String("{path: 'a'".into())
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        let mut config = ProviderConfig::new(ProviderKind::Anthropic, "https://x.test", "m");
        config.api_key = Some("sk-secret".into());
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-secret"), "{printed}");
        assert_eq!(config.endpoint(), "https://x.test/v1/messages");
        config.base_url = "https://x.test/v1".into();
        assert_eq!(config.endpoint(), "https://x.test/v1/messages");
    }
}
