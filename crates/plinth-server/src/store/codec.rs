//! Value conversions shared by both stores, so SQLite and PostgreSQL hand the server identical
//! values: decimals as trimmed text, timestamps as RFC 3339 UTC text with milliseconds
//! (`2024-01-02T03:04:05.678Z`), booleans as booleans, JSON parsed.

use crate::sql::{Decode, SqlValue};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Makes a raw database value agree with what the column's decode kind promises.
pub fn normalize(value: SqlValue, decode: &Decode) -> SqlValue {
    match (decode, value) {
        (_, SqlValue::Null) => SqlValue::Null,
        (Decode::Bool, SqlValue::Int(number)) => SqlValue::Bool(number != 0),
        (Decode::Bool, SqlValue::Text(text)) => {
            SqlValue::Bool(matches!(text.as_str(), "1" | "true" | "t" | "TRUE"))
        }
        (Decode::Int | Decode::BigInt, SqlValue::Float(number)) if number.fract() == 0.0 => {
            SqlValue::Int(number as i64)
        }
        (Decode::Int | Decode::BigInt, SqlValue::Text(text)) => match text.trim().parse() {
            Ok(number) => SqlValue::Int(number),
            Err(_) => SqlValue::Text(text),
        },
        (Decode::Float, SqlValue::Int(number)) => SqlValue::Float(number as f64),
        (Decode::Float, SqlValue::Text(text)) => match text.trim().parse() {
            Ok(number) => SqlValue::Float(number),
            Err(_) => SqlValue::Text(text),
        },
        (Decode::Decimal, SqlValue::Int(number)) => SqlValue::Text(number.to_string()),
        (Decode::Decimal, SqlValue::Float(number)) => {
            SqlValue::Text(trim_decimal(&format_float(number)))
        }
        (Decode::Decimal, SqlValue::Text(text)) => SqlValue::Text(trim_decimal(&text)),
        (Decode::DateTime, SqlValue::Text(text)) => {
            SqlValue::Text(normalize_datetime(&text).unwrap_or(text))
        }
        (Decode::Json | Decode::List(_), SqlValue::Text(text)) => match serde_json::from_str(&text)
        {
            Ok(json) => SqlValue::Json(json),
            Err(_) => SqlValue::Text(text),
        },
        (Decode::Bytes, SqlValue::Text(text)) => SqlValue::Bytes(text.into_bytes()),
        (Decode::Text | Decode::Enum(_), SqlValue::Int(number)) => {
            SqlValue::Text(number.to_string())
        }
        (Decode::Text | Decode::Enum(_), SqlValue::Float(number)) => {
            SqlValue::Text(format_float(number))
        }
        (Decode::Text | Decode::Enum(_), SqlValue::Bytes(bytes)) => {
            SqlValue::Text(String::from_utf8_lossy(&bytes).into_owned())
        }
        (_, other) => other,
    }
}

fn format_float(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{number:.0}")
    } else {
        number.to_string()
    }
}

/// `1.500000` → `1.5`, `2.000` → `2`, `-0.0` → `0`; other text unchanged.
pub fn trim_decimal(text: &str) -> String {
    let text = text.trim();
    if !text.contains('.') || text.contains(['e', 'E']) {
        return text.to_string();
    }
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" || trimmed.is_empty() || trimmed == "-" {
        return "0".to_string();
    }
    trimmed.to_string()
}

/// Whether `text` is a plain decimal number: optional sign, digits, optional fraction.
pub fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !(integer.is_empty() && fraction.is_empty())
        && integer.bytes().all(|byte| byte.is_ascii_digit())
        && fraction.bytes().all(|byte| byte.is_ascii_digit())
        && (!integer.is_empty() || !fraction.is_empty())
        && !(unsigned.ends_with('.') && fraction.is_empty() && integer.is_empty())
}

/// Parses an RFC 3339 timestamp (or a plain date, or SQLite's `YYYY-MM-DD HH:MM:SS`) and writes
/// it in the canonical wire form. `None` when it is not a timestamp.
pub fn normalize_datetime(text: &str) -> Option<String> {
    parse_datetime(text).map(format_datetime)
}

pub fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(parsed) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(parsed.to_offset(UtcOffset::UTC));
    }
    // SQLite's CURRENT_TIMESTAMP form and RFC 3339 without an offset: taken as UTC.
    let with_t = text.replacen(' ', "T", 1);
    for candidate in [format!("{with_t}Z"), format!("{text}T00:00:00Z")] {
        if let Ok(parsed) = OffsetDateTime::parse(&candidate, &Rfc3339) {
            return Some(parsed.to_offset(UtcOffset::UTC));
        }
    }
    None
}

pub fn format_datetime(moment: OffsetDateTime) -> String {
    let moment = moment.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second(),
        moment.millisecond()
    )
}

/// Now, in the wire form (millisecond precision, so both databases store the same value).
pub fn now_text() -> String {
    format_datetime(OffsetDateTime::now_utc())
}

/// Microseconds since 2000-01-01 UTC: PostgreSQL's binary timestamp.
pub fn postgres_micros(moment: OffsetDateTime) -> i64 {
    const POSTGRES_EPOCH_UNIX_SECONDS: i128 = 946_684_800;
    let nanos = moment.unix_timestamp_nanos() - POSTGRES_EPOCH_UNIX_SECONDS * 1_000_000_000;
    (nanos / 1000) as i64
}

pub fn from_postgres_micros(micros: i64) -> Option<OffsetDateTime> {
    let epoch = PrimitiveDateTime::new(
        time::Date::from_calendar_date(2000, time::Month::January, 1).ok()?,
        time::Time::MIDNIGHT,
    )
    .assume_utc();
    epoch.checked_add(time::Duration::microseconds(micros))
}

/// PostgreSQL's binary NUMERIC → decimal text.
pub fn decode_numeric(raw: &[u8]) -> Option<String> {
    let word = |index: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*raw.get(index)?, *raw.get(index + 1)?]))
    };
    let digit_count = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let scale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(digit_count);
    for index in 0..digit_count {
        digits.push(word(8 + index * 2)?);
    }
    let digit_at = |position: i32| -> u16 {
        if position >= 0 {
            digits.get(position as usize).copied().unwrap_or(0)
        } else {
            0
        }
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for position in 0..=weight {
            let digit = digit_at(position);
            if position == 0 {
                text.push_str(&digit.to_string());
            } else {
                text.push_str(&format!("{digit:04}"));
            }
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut position = weight + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit_at(position)));
            position += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

/// Decimal text → PostgreSQL's binary NUMERIC. `None` when the text is not a decimal.
pub fn encode_numeric(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !is_decimal_text(text) {
        return None;
    }
    let negative = text.starts_with('-');
    let unsigned = text.trim_start_matches(['-', '+']);
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let integer = integer.trim_start_matches('0');
    let scale = fraction.len();
    let mut groups: Vec<u16> = Vec::new();
    let padded_integer = format!("{}{integer}", "0".repeat((4 - integer.len() % 4) % 4));
    for chunk in padded_integer.as_bytes().chunks(4) {
        groups.push(std::str::from_utf8(chunk).ok()?.parse().ok()?);
    }
    let integer_groups = groups.len() as i32;
    let padded_fraction = format!("{fraction}{}", "0".repeat((4 - fraction.len() % 4) % 4));
    for chunk in padded_fraction.as_bytes().chunks(4) {
        groups.push(std::str::from_utf8(chunk).ok()?.parse().ok()?);
    }
    let mut weight = integer_groups - 1;
    let leading_zeros = groups.iter().take_while(|&&group| group == 0).count();
    groups.drain(..leading_zeros);
    weight -= leading_zeros as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let mut bytes = Vec::with_capacity(8 + groups.len() * 2);
    bytes.extend_from_slice(&(groups.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&(weight as i16).to_be_bytes());
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    bytes.extend_from_slice(&sign.to_be_bytes());
    bytes.extend_from_slice(&(scale as u16).to_be_bytes());
    for group in groups {
        bytes.extend_from_slice(&group.to_be_bytes());
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trips() {
        for text in [
            "0",
            "1",
            "12345.678",
            "-0.0001",
            "100000000",
            "0.5",
            "-987654321.123456789",
        ] {
            let encoded = encode_numeric(text).unwrap();
            let decoded = decode_numeric(&encoded).unwrap();
            assert_eq!(trim_decimal(&decoded), trim_decimal(text), "{text}");
        }
        assert!(encode_numeric("1e5").is_none());
        assert!(encode_numeric("abc").is_none());
    }

    #[test]
    fn decimals_trim() {
        assert_eq!(trim_decimal("1.500000"), "1.5");
        assert_eq!(trim_decimal("2.000"), "2");
        assert_eq!(trim_decimal("10"), "10");
        assert_eq!(trim_decimal("-0.000"), "0");
    }

    #[test]
    fn datetimes_normalize() {
        assert_eq!(
            normalize_datetime("2024-01-02T03:04:05+02:00").as_deref(),
            Some("2024-01-02T01:04:05.000Z")
        );
        assert_eq!(
            normalize_datetime("2024-01-02 03:04:05").as_deref(),
            Some("2024-01-02T03:04:05.000Z")
        );
        assert_eq!(
            normalize_datetime("2024-01-02").as_deref(),
            Some("2024-01-02T00:00:00.000Z")
        );
        assert_eq!(normalize_datetime("yesterday"), None);
        let moment = parse_datetime("2024-05-06T07:08:09.123Z").unwrap();
        assert_eq!(from_postgres_micros(postgres_micros(moment)), Some(moment));
    }
}
