//! One keep-alive HTTP/1.1 connection of the load generator: the request is serialised once
//! when the plan is prepared, each send writes those bytes and reads the answer with `httparse`
//! (Content-Length, chunked, or until close), discarding the body. No HTTP library state, no
//! header maps, no second task per connection: the generator spends its time where wrk does — in
//! the socket — so its throughput can be compared with wrk's on the same machine.

use super::{LoadError, PlannedRequest};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where the load goes: the socket address (resolved once), the `host` header and the path
/// prefix of the base URL.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) address: SocketAddr,
    host: String,
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
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
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
            host: host_header,
            path_prefix: url.path().trim_end_matches('/').to_string(),
        })
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Target {
        Target {
            address: SocketAddr::from(([127, 0, 0, 1], 9)),
            host: "127.0.0.1:9".into(),
            path_prefix: String::new(),
        }
    }
}

/// A planned request serialised once: each send writes these bytes.
pub(crate) struct PreparedRequest {
    bytes: Vec<u8>,
    /// A HEAD answer has no body whatever its headers say.
    is_head: bool,
}

/// RFC 9110 token characters (methods and header names).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

impl PreparedRequest {
    pub(crate) fn new(planned: &PlannedRequest, target: &Target) -> Result<Self, LoadError> {
        let invalid = |what: String| LoadError::InvalidPlan(what);
        if !is_token(&planned.method) {
            return Err(invalid(format!(
                "`{}` is not an HTTP method",
                planned.method
            )));
        }
        let path = if planned.path.starts_with('/') {
            format!("{}{}", target.path_prefix, planned.path)
        } else {
            format!("{}/{}", target.path_prefix, planned.path)
        };
        if path.bytes().any(|byte| byte <= b' ' || byte == 0x7f) {
            return Err(invalid(format!(
                "`{}` is not a valid request path (spaces and control characters must be percent-encoded)",
                planned.path
            )));
        }
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nhost: {}\r\n",
            planned.method, target.host
        );
        let mut has_content_type = false;
        for (name, value) in &planned.headers {
            if !is_token(name) {
                return Err(invalid(format!("`{name}` is not a header name")));
            }
            if value
                .bytes()
                .any(|byte| byte == b'\r' || byte == b'\n' || byte == 0)
            {
                return Err(invalid(format!(
                    "the value of header `{name}` is not valid"
                )));
            }
            let lower = name.to_ascii_lowercase();
            // The generator frames the message itself.
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) {
                continue;
            }
            has_content_type |= lower == "content-type";
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = planned.body.clone().unwrap_or_default();
        if !body.is_empty()
            || !matches!(
                planned.method.as_str(),
                "GET" | "HEAD" | "DELETE" | "OPTIONS"
            )
        {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
            if !body.is_empty() && !has_content_type {
                head.push_str("content-type: application/json\r\n");
            }
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        Ok(PreparedRequest {
            bytes,
            is_head: planned.method.eq_ignore_ascii_case("HEAD"),
        })
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

/// The most an answer's head (status line and headers) or a chunk-size line may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

pub(crate) struct Connection {
    stream: TcpStream,
    /// Received bytes not yet consumed are `buffer[start..end]`.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    closed: bool,
}

/// How an answer's body ends.
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Connection {
    pub(crate) async fn open(target: &Target) -> Result<Connection, String> {
        let stream = TcpStream::connect(target.address)
            .await
            .map_err(|error| error.to_string())?;
        // Requests are small and answered one at a time: Nagle would only add delay.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            buffer: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            closed: false,
        })
    }

    /// Whether the last answer said the server closes this connection.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends one request and reads its answer to the end (discarding the body), within `timeout`.
    /// Returns the status and whether the server closes the connection after it; any error
    /// leaves the connection in an unknown state, so the caller drops it.
    pub(crate) async fn send(
        &mut self,
        request: &PreparedRequest,
        timeout: Duration,
    ) -> Result<(u16, bool), Outcome> {
        match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(Outcome::Timeout),
        }
    }

    async fn exchange(&mut self, request: &PreparedRequest) -> Result<(u16, bool), Outcome> {
        self.write_all(&request.bytes).await?;
        loop {
            let (status, framing, closes) = self.read_head(request.is_head).await?;
            // 1xx answers (100 Continue, 103 Early Hints) come before the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            match framing {
                Framing::Empty => {}
                Framing::Length(length) => self.skip(length).await?,
                Framing::Chunked => self.skip_chunked().await?,
                Framing::UntilClose => self.skip_until_close().await?,
            }
            let closes = closes || matches!(framing, Framing::UntilClose);
            self.closed = closes;
            return Ok((status, closes));
        }
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), Outcome> {
        while !bytes.is_empty() {
            self.stream.writable().await.map_err(|_| Outcome::Broken)?;
            match self.stream.try_write(bytes) {
                Ok(0) => return Err(Outcome::Broken),
                Ok(written) => bytes = &bytes[written..],
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Err(Outcome::Broken),
            }
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> Result<usize, Outcome> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end == self.buffer.len() {
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else if self.buffer.len() < MAX_HEAD_BYTES * 2 {
                self.buffer.resize(self.buffer.len() * 2, 0);
            } else {
                return Err(Outcome::Broken);
            }
        }
        loop {
            self.stream.readable().await.map_err(|_| Outcome::Broken)?;
            match self.stream.try_read(&mut self.buffer[self.end..]) {
                Ok(read) => {
                    self.end += read;
                    return Ok(read);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Err(Outcome::Broken),
            }
        }
    }

    async fn read_head(&mut self, is_head: bool) -> Result<(u16, Framing, bool), Outcome> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer[self.start..self.end]) {
                Ok(httparse::Status::Complete(length)) => {
                    let status = response.code.unwrap_or(0);
                    let mut content_length = None;
                    let mut chunked = false;
                    // HTTP/1.0 closes unless told otherwise; HTTP/1.1 keeps alive unless told.
                    let mut closes = response.version == Some(0);
                    for header in response.headers.iter() {
                        if header.name.eq_ignore_ascii_case("content-length") {
                            content_length = std::str::from_utf8(header.value)
                                .ok()
                                .and_then(|text| text.trim().parse::<u64>().ok());
                            if content_length.is_none() {
                                return Err(Outcome::Broken);
                            }
                        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = header
                                .value
                                .split(|byte| *byte == b',')
                                .next_back()
                                .is_some_and(|coding| {
                                    coding.trim_ascii().eq_ignore_ascii_case(b"chunked")
                                });
                        } else if header.name.eq_ignore_ascii_case("connection") {
                            for option in header.value.split(|byte| *byte == b',') {
                                let option = option.trim_ascii();
                                if option.eq_ignore_ascii_case(b"close") {
                                    closes = true;
                                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                                    closes = false;
                                }
                            }
                        }
                    }
                    self.start += length;
                    let framing = if is_head
                        || (100..200).contains(&status)
                        || status == 204
                        || status == 304
                    {
                        Framing::Empty
                    } else if chunked {
                        Framing::Chunked
                    } else if let Some(length) = content_length {
                        Framing::Length(length)
                    } else {
                        Framing::UntilClose
                    };
                    return Ok((status, framing, closes));
                }
                Ok(httparse::Status::Partial) => {
                    if self.end - self.start > MAX_HEAD_BYTES {
                        return Err(Outcome::Broken);
                    }
                    if self.fill().await? == 0 {
                        return Err(Outcome::Broken);
                    }
                }
                Err(_) => return Err(Outcome::Broken),
            }
        }
    }

    /// Consumes `length` body bytes.
    async fn skip(&mut self, mut length: u64) -> Result<(), Outcome> {
        loop {
            let buffered = (self.end - self.start) as u64;
            let taken = buffered.min(length);
            self.start += taken as usize;
            length -= taken;
            if length == 0 {
                return Ok(());
            }
            if self.fill().await? == 0 {
                return Err(Outcome::Broken);
            }
        }
    }

    /// A CRLF-terminated line (without the CRLF), consumed.
    async fn line(&mut self) -> Result<Vec<u8>, Outcome> {
        loop {
            let buffered = &self.buffer[self.start..self.end];
            if let Some(position) = buffered.windows(2).position(|pair| pair == b"\r\n") {
                let line = buffered[..position].to_vec();
                self.start += position + 2;
                return Ok(line);
            }
            if buffered.len() > MAX_HEAD_BYTES {
                return Err(Outcome::Broken);
            }
            if self.fill().await? == 0 {
                return Err(Outcome::Broken);
            }
        }
    }

    async fn skip_chunked(&mut self) -> Result<(), Outcome> {
        loop {
            let line = self.line().await?;
            let size_text = line.split(|byte| *byte == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|text| u64::from_str_radix(text.trim(), 16).ok())
                .ok_or(Outcome::Broken)?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(());
            }
            self.skip(size).await?;
            if !self.line().await?.is_empty() {
                return Err(Outcome::Broken);
            }
        }
    }

    async fn skip_until_close(&mut self) -> Result<(), Outcome> {
        (self.start, self.end) = (0, 0);
        while self.fill().await? > 0 {
            (self.start, self.end) = (0, 0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers every request it reads (up to the blank line) with the next canned
    /// answer, then closes.
    async fn canned_server(answers: Vec<&'static [u8]>) -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mut received = Vec::new();
            for answer in answers {
                // Wait for one whole request head.
                loop {
                    if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n")
                    {
                        received.drain(..end + 4);
                        break;
                    }
                    let mut chunk = [0u8; 4096];
                    if stream.readable().await.is_err() {
                        return;
                    }
                    match stream.try_read(&mut chunk) {
                        Ok(0) => return,
                        Ok(read) => received.extend_from_slice(&chunk[..read]),
                        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
                let mut rest = answer;
                while !rest.is_empty() {
                    if stream.writable().await.is_err() {
                        return;
                    }
                    match stream.try_write(rest) {
                        Ok(written) => rest = &rest[written..],
                        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            }
        });
        Target {
            address,
            host: address.to_string(),
            path_prefix: String::new(),
        }
    }

    #[tokio::test]
    async fn answers_are_framed_by_length_chunks_or_close() {
        let target = canned_server(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy until close",
        ])
        .await;
        let request = PreparedRequest::new(&PlannedRequest::get("/x"), &target).expect("request");
        let mut connection = Connection::open(&target).await.expect("connect");
        let timeout = Duration::from_secs(5);
        assert_eq!(connection.send(&request, timeout).await, Ok((200, false)));
        assert_eq!(connection.send(&request, timeout).await, Ok((404, false)));
        assert_eq!(connection.send(&request, timeout).await, Ok((204, false)));
        assert_eq!(connection.send(&request, timeout).await, Ok((503, true)));
        assert!(connection.is_closed());
    }

    #[tokio::test]
    async fn a_truncated_or_garbled_answer_is_a_broken_connection() {
        let target =
            canned_server(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort"]).await;
        let request = PreparedRequest::new(&PlannedRequest::get("/"), &target).expect("request");
        let mut connection = Connection::open(&target).await.expect("connect");
        assert_eq!(
            connection.send(&request, Duration::from_secs(5)).await,
            Err(Outcome::Broken)
        );
        let target = canned_server(vec![b"not http at all\r\n\r\n"]).await;
        let mut connection = Connection::open(&target).await.expect("connect");
        assert_eq!(
            connection.send(&request, Duration::from_secs(5)).await,
            Err(Outcome::Broken)
        );
    }

    #[test]
    fn requests_are_serialised_once_with_their_framing() {
        let target = Target::for_tests();
        let post = PlannedRequest {
            method: "POST".into(),
            path: "/api/v1/tasks".into(),
            headers: vec![
                ("Authorization".into(), "Bearer t".into()),
                ("Host".into(), "ignored".into()),
            ],
            body: Some(br#"{"title":"a"}"#.to_vec()),
            weight: 1,
        };
        let prepared = PreparedRequest::new(&post, &target).expect("request");
        assert_eq!(
            String::from_utf8_lossy(&prepared.bytes),
            "POST /api/v1/tasks HTTP/1.1\r\nhost: 127.0.0.1:9\r\nAuthorization: Bearer t\r\n\
             content-length: 13\r\ncontent-type: application/json\r\n\r\n{\"title\":\"a\"}"
        );
        let spaced = PlannedRequest::get("/a b");
        assert!(PreparedRequest::new(&spaced, &target).is_err());
        let injected = PlannedRequest::get("/").bearer("x\r\nevil: 1");
        assert!(PreparedRequest::new(&injected, &target).is_err());
    }
}
