//! The HTTP side of a run: a [`Target`] (base URL and a keep-alive client) that sends requests
//! and records each one as an [`Exchange`] — the request as sent (replayable as curl), the
//! status, headers, body and time taken — so every check reports exactly what it saw.

use crate::findings::RecordedRequest;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The API under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// `http://host:port` (no trailing slash).
    pub base_url: String,
    client: reqwest::Client,
    /// Every request sent through this target or its clones, answered or not: the run's
    /// request count covers the probes too, not only the contract checks.
    sent: Arc<AtomicUsize>,
}

/// One request and its answer.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub request: RecordedRequest,
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Exchange {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The media type of the body without parameters, lower case (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a valid URL")]
    InvalidUrl(String),
    #[error("{method} {url} failed: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
}

/// A request to send: the path may carry a query string (`/api/v1/tasks?limit=5`).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Request {
    pub fn new(method: &str, path: impl Into<String>) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            path: path.into(),
            ..Request::default()
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Request {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A JSON body (and its content type).
    pub fn json(mut self, body: &serde_json::Value) -> Request {
        self.headers
            .push(("content-type".to_string(), "application/json".to_string()));
        self.body = Some(body.to_string());
        self
    }
}

/// Largest response body kept (bigger ones are truncated; checks never need more).
const MAX_BODY: usize = 4 * 1024 * 1024;

impl Target {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Target, ClientError> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(trimmed)
            .map_err(|_| ClientError::InvalidUrl(base_url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::InvalidUrl(base_url.to_string()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ClientError::Transport {
                method: String::new(),
                url: trimmed.to_string(),
                message: error.to_string(),
            })?;
        Ok(Target {
            base_url: trimmed.to_string(),
            client,
            sent: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// How many requests have been sent through this target and its clones.
    pub fn requests_sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base_url, path)
        }
    }

    /// Sends `request` and records the exchange. Only transport failures are errors; any
    /// HTTP status is an answer.
    pub async fn send(&self, request: Request) -> Result<Exchange, ClientError> {
        let url = self.url(&request.path);
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            ClientError::Transport {
                method: request.method.clone(),
                url: url.clone(),
                message: "invalid method".into(),
            }
        })?;
        let mut builder = self.client.request(method, &url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let recorded = RecordedRequest {
            method: request.method.clone(),
            url: url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let started = Instant::now();
        self.sent.fetch_add(1, Ordering::Relaxed);
        let transport = |error: reqwest::Error| ClientError::Transport {
            method: request.method.clone(),
            url: url.clone(),
            message: error.to_string(),
        };
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Exchange {
            request: recorded,
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }
}
