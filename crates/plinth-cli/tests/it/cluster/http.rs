//! HTTP for the cluster test: reqwest clients bound to a chosen loopback address (each scenario
//! is its own client IP, so rate limits on `/api/v1/auth/*` never leak between scenarios), one
//! reply type, and a small Server-Sent Events reader.

use reqwest::header::HeaderMap;
use reqwest::RequestBuilder;
use serde_json::Value;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A client whose connections come from `ip` (any 127.x.y.z address is loopback on Linux).
pub fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
        .expect("a reqwest client builds")
}

/// A client without an overall timeout, for event streams that stay open.
pub fn streaming_client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("a reqwest client builds")
}

/// One answer, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// A short description for assertion messages.
    pub fn describe(&self) -> String {
        let text: String = self.text.chars().take(400).collect();
        format!("{} {text}", self.status)
    }
}

/// Sends and reads the whole answer; `Err` for a transport failure (refused, reset, timeout).
pub async fn try_send(request: RequestBuilder) -> Result<Reply, String> {
    let started = Instant::now();
    let response = request.send().await.map_err(|error| format!("{error:#}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|error| format!("{error:#}"))?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        text,
        json,
        elapsed: started.elapsed(),
    })
}

/// Sends and reads the whole answer; a transport failure fails the scenario.
pub async fn send(request: RequestBuilder) -> Reply {
    match try_send(request).await {
        Ok(reply) => reply,
        Err(error) => panic!("the request failed without an HTTP answer: {error}"),
    }
}

pub fn with_token(request: RequestBuilder, token: &str) -> RequestBuilder {
    request.header("authorization", format!("Bearer {token}"))
}

/// One Server-Sent Event.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSentEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl ServerSentEvent {
    /// The data as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    /// The numeric id (events are numbered in commit order).
    pub fn sequence(&self) -> Option<u64> {
        self.id.as_deref().and_then(|id| id.trim().parse().ok())
    }
}

/// An open `text/event-stream` response and the bytes read from it but not yet parsed.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    closed: bool,
}

impl EventStream {
    /// Opens `url` as an event stream; panics unless the answer is a 200 `text/event-stream`.
    pub async fn open(request: RequestBuilder) -> EventStream {
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            request.header("accept", "text/event-stream").send(),
        )
        .await
        .expect("the event stream answers within 10 s")
        .expect("the event stream request is answered");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if status != 200 || !content_type.starts_with("text/event-stream") {
            let body = tokio::time::timeout(Duration::from_secs(2), response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            panic!("the event stream answered {status} `{content_type}`: {body}");
        }
        EventStream {
            response,
            buffer: String::new(),
            closed: false,
        }
    }

    /// The next event, or `None` when none arrives before `deadline` (or the stream ended).
    /// Comment lines (heartbeats) and blocks without data are skipped.
    pub async fn next_event(&mut self, deadline: Instant) -> Option<ServerSentEvent> {
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            if self.closed {
                return None;
            }
            let remaining = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(remaining, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    // One line ending from here on: SSE allows \r\n, \n and \r.
                    if self.buffer.contains('\r') {
                        self.buffer = self.buffer.replace("\r\n", "\n").replace('\r', "\n");
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => self.closed = true,
            }
        }
    }

    /// Every event that arrives before `deadline`.
    pub async fn events_until(&mut self, deadline: Instant) -> Vec<ServerSentEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event(deadline).await {
            events.push(event);
        }
        events
    }

    /// Takes one complete event off the buffer, if there is one.
    fn parse_one(&mut self) -> Option<ServerSentEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer[..end].to_string();
            self.buffer.drain(..end + 2);
            let mut event = ServerSentEvent {
                id: None,
                event: "message".to_string(),
                data: String::new(),
            };
            let mut data_lines: Vec<&str> = Vec::new();
            for line in block.lines() {
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_string()),
                    "event" => event.event = value.to_string(),
                    "data" => data_lines.push(value),
                    _ => {}
                }
            }
            if data_lines.is_empty() {
                continue;
            }
            event.data = data_lines.join("\n");
            return Some(event);
        }
    }
}
