//! Query strings: `application/x-www-form-urlencoded` pairs, decoded strictly (bad percent
//! escapes and invalid UTF-8 are a 400, not silently replaced).

use crate::error::ApiError;

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex(*bytes.get(index + 1)?)?;
                let low = hex(*bytes.get(index + 2)?)?;
                out.push(high * 16 + low);
                index += 2;
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8(out).ok()
}

/// The pairs of a query string, in order (empty pieces skipped).
pub fn parse_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        match (percent_decode(key), percent_decode(value)) {
            (Some(key), Some(value)) => pairs.push((key, value)),
            _ => {
                return Err(ApiError::bad_request(
                    "malformed_query",
                    "the query string has an invalid percent-escape or is not UTF-8",
                ))
            }
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let pairs = parse_pairs(Some("title%5Bcontains%5D=a+b&limit=5&&x")).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("title[contains]".to_string(), "a b".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert!(parse_pairs(Some("a=%zz")).is_err());
        assert!(parse_pairs(Some("a=%ff")).is_err());
    }
}
