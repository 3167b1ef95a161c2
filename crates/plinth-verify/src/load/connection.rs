//! One keep-alive HTTP/1.1 connection of the load generator, on hyper's client connection API:
//! no pool, no redirects, no per-request allocation beyond the request itself, so the generator
//! spends its time where wrk does — in the socket.

use super::{LoadError, PlannedRequest};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use std::time::Duration;

/// Where the load goes: the socket address (resolved once), the `host` header and the path
/// prefix of the base URL.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) address: SocketAddr,
    host: HeaderValue,
    path_prefix: String,
}

impl Target {
    pub(crate) async fn resolve(base_url: &str) -> Result<Target, LoadError> {
        let invalid = || LoadError::InvalidUrl(base_url.to_string());
        let url = reqwest::Url::parse(base_url).map_err(|_| invalid())?;
        if url.scheme() != "http" {
            return Err(invalid());
        }
        let host = url.host_str().ok_or_else(invalid)?.to_string();
        let port = url.port_or_known_default().ok_or_else(invalid)?;
        let lookup_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let address = tokio::net::lookup_host((lookup_host.as_str(), port))
            .await
            .map_err(|error| LoadError::Connect {
                address: format!("{host}:{port}"),
                message: error.to_string(),
            })?
            .next()
            .ok_or_else(|| LoadError::Connect {
                address: format!("{host}:{port}"),
                message: "the name resolves to no address".into(),
            })?;
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        Ok(Target {
            address,
            host: HeaderValue::from_str(&host_header).map_err(|_| invalid())?,
            path_prefix: url.path().trim_end_matches('/').to_string(),
        })
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Target {
        Target {
            address: SocketAddr::from(([127, 0, 0, 1], 9)),
            host: HeaderValue::from_static("127.0.0.1:9"),
            path_prefix: String::new(),
        }
    }
}

/// A planned request parsed once: each send only clones it.
pub(crate) struct PreparedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl PreparedRequest {
    pub(crate) fn new(planned: &PlannedRequest, target: &Target) -> Result<Self, LoadError> {
        let invalid = |what: String| LoadError::InvalidPlan(what);
        let method = Method::from_bytes(planned.method.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not an HTTP method", planned.method)))?;
        let path = if planned.path.starts_with('/') {
            format!("{}{}", target.path_prefix, planned.path)
        } else {
            format!("{}/{}", target.path_prefix, planned.path)
        };
        let uri: Uri = path
            .parse()
            .map_err(|_| invalid(format!("`{}` is not a valid request path", planned.path)))?;
        let mut headers = HeaderMap::new();
        headers.insert(HOST, target.host.clone());
        for (name, value) in &planned.headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
            if header_name == HOST {
                continue;
            }
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            headers.append(header_name, header_value);
        }
        Ok(PreparedRequest {
            method,
            uri,
            headers,
            body: Bytes::from(planned.body.clone().unwrap_or_default()),
        })
    }

    fn to_request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An answer, read to its end.
    Status(u16),
    /// No connection could be made.
    Connect,
    /// No complete answer within the timeout.
    Timeout,
    /// The connection broke or the answer was not HTTP.
    Broken,
}

/// A connection and its hyper driver, both polled by the worker's own task: no second task per
/// connection, so a request costs no cross-task wake-up (that halves the scheduler work).
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: Http1Driver,
}

type Http1Driver = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

impl Connection {
    pub(crate) async fn open(target: &Target) -> Result<Connection, String> {
        let stream = TcpStream::connect(target.address)
            .await
            .map_err(|error| error.to_string())?;
        // Requests are small and answered one at a time: Nagle would only add delay.
        let _ = stream.set_nodelay(true);
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
        Ok(Connection { sender, driver })
    }

    /// Whether the server closed this connection (keep-alive refused or timed out).
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request and reads its answer to the end (discarding it), within `timeout`.
    /// `Ok(status)` keeps the connection usable; any error leaves it in an unknown state, so the
    /// caller drops it.
    pub(crate) async fn send(
        &mut self,
        request: &PreparedRequest,
        timeout: Duration,
    ) -> Result<(u16, bool), Outcome> {
        let Connection { sender, driver } = self;
        let exchange = async {
            sender.ready().await.map_err(|_| Outcome::Broken)?;
            let response = sender
                .send_request(request.to_request())
                .await
                .map_err(|_| Outcome::Broken)?;
            let status = response.status().as_u16();
            let closes = response
                .headers()
                .get(hyper::header::CONNECTION)
                .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|_| Outcome::Broken)?;
            }
            Ok((status, closes))
        };
        let driven = async {
            tokio::pin!(exchange);
            tokio::select! {
                biased;
                result = &mut exchange => result,
                // The driver only ends when the connection does: before the answer, that is a
                // broken connection. The caller drops the connection after any error, so the
                // finished driver is never polled again.
                _ = driver => Err(Outcome::Broken),
            }
        };
        match tokio::time::timeout(timeout, driven).await {
            Ok(result) => result,
            Err(_) => Err(Outcome::Timeout),
        }
    }
}
