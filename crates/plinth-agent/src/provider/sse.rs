//! A small server-sent-events reader: bytes in, `event`/`data` pairs out.
//!
//! Both providers stream their answers as SSE. Network chunks split lines (and UTF-8 characters)
//! anywhere, so bytes are buffered until a line is complete. Lines end in `\n` or `\r\n`; a lone
//! `\r` ending is not recognised (no model server we know of sends one).

/// One dispatched event: its `event:` name, if any, and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of a line not yet ended.
    pending: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Feeds the next bytes of the stream; returns the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..newline]);
            rest = &rest[newline + 1..];
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        self.pending.extend_from_slice(rest);
        events
    }

    /// The end of the stream: an unterminated last line and an event not followed by a blank
    /// line still count (some servers close the connection right after the last `data:` line).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let last = std::mem::take(&mut self.pending);
        let mut dispatched = None;
        if !last.is_empty() {
            let line = String::from_utf8_lossy(&last);
            dispatched = self.line(line.trim_end_matches('\r'));
        }
        dispatched.or_else(|| self.dispatch())
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment, often a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            _ => {} // `id`, `retry` and unknown fields do not matter to a one-shot answer
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(stream: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for chunk in stream.chunks(piece) {
            events.extend(decoder.push(chunk));
        }
        events.extend(decoder.finish());
        events
    }

    #[test]
    fn events_survive_any_split_of_the_byte_stream() {
        let stream = "event: message_start\r\ndata: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        let expected = vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":\"é\"}".into(),
            },
            SseEvent {
                event: None,
                data: "one\ntwo".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        for piece in 1..=stream.len() {
            assert_eq!(
                decode_in_pieces(stream.as_bytes(), piece),
                expected,
                "{piece}"
            );
        }
    }

    #[test]
    fn a_last_event_without_its_blank_line_still_counts() {
        assert_eq!(
            decode_in_pieces(b"data: {\"x\":1}", 4),
            vec![SseEvent {
                event: None,
                data: "{\"x\":1}".into()
            }]
        );
        assert_eq!(decode_in_pieces(b"data:tight\n", 3)[0].data, "tight");
    }
}
