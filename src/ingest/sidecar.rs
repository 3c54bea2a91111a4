//! The dock's optional sidecar `<file>.json`: `officer_id`, `device_id`, `recorded_at` (RFC 3339,
//! stored as UTC); every other field is kept as given. A sidecar is at most [`MAX_BYTES`], its
//! ids are text (or whole numbers, kept as their digits), every number in it is one the index
//! keeps exactly (a 64-bit integer, or a decimal of at most 15 significant digits), and its time
//! lies between 2000 and a day after the store's clock: anything else is refused with the
//! reason, never half-read.

use std::io::Read as _;
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Parsed sidecar metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sidecar {
    /// Officer id.
    pub officer_id: Option<String>,
    /// Camera id.
    pub device_id: Option<String>,
    /// When recording started.
    pub recorded_at: Option<Timestamp>,
    /// All other fields.
    pub extra: Map<String, Value>,
}

/// The largest sidecar read: metadata, not footage (a 200 MB sidecar bloated the index).
pub const MAX_BYTES: u64 = 64 * 1024;

/// Reads and validates a sidecar; `now` is the store's clock (a recording time after it is
/// refused).
pub fn read(path: &Path, now: Timestamp) -> Result<Sidecar> {
    let fail = |reason: String| Error::Sidecar {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut text = String::new();
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(fail(format!("larger than {MAX_BYTES} bytes")));
    }
    parse(&text, now).map_err(fail)
}

/// Parses sidecar text.
pub fn parse(text: &str, now: Timestamp) -> std::result::Result<Sidecar, String> {
    let Value::Object(mut map) =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("not a JSON object".into());
    };
    if let Some(number) = inexact_number(text) {
        return Err(format!(
            "the number {number} would not be kept exactly (it is beyond a 64-bit integer or has \
             more than 15 significant digits): write it as text, in quotes"
        ));
    }
    let mut take_str = |key: &str| -> std::result::Result<Option<String>, String> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            // Whole numbers keep their digits; others would be kept rounded, as floats.
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
            Some(other) => Err(format!("{key} must be text, not {other}")),
        }
    };
    let officer_id = take_str("officer_id")?;
    let device_id = take_str("device_id")?;
    let recorded_at = take_str("recorded_at")?
        .map(|s| {
            s.parse::<Timestamp>().map_err(|e| {
                format!("recorded_at {s:?} is not an RFC 3339 time with an offset: {e}")
            })
        })
        .transpose()?;
    if let Some(t) = recorded_at {
        let earliest = Timestamp::from_second(946_684_800).map_err(|e| e.to_string())?;
        let latest = now
            .checked_add(jiff::SignedDuration::from_hours(24))
            .map_err(|e| e.to_string())?;
        if t < earliest || t > latest {
            return Err(format!(
                "recorded_at {t} is before 2000 or more than a day after now ({now})"
            ));
        }
    }
    Ok(Sidecar {
        officer_id,
        device_id,
        recorded_at,
        extra: map,
    })
}

/// The first number in valid JSON `text` that a JSON value would not hold exactly: an integer
/// beyond 64 bits, or a decimal with more than 15 significant digits (the most a double keeps
/// for every value) or too small for a normal double. Such numbers (a long case or exhibit
/// number, say) would otherwise be stored rounded, as floats.
fn inexact_number(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b != b'-' && !b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            i += 1;
        }
        let token = &text[start..i];
        if !exact(token) {
            return Some(token);
        }
    }
    None
}

/// Whether a JSON number token is held exactly by a JSON value (see [`inexact_number`]).
fn exact(token: &str) -> bool {
    if !token.contains(['.', 'e', 'E']) {
        return token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
    }
    let mantissa = token.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    let value = token.parse::<f64>().unwrap_or(f64::NAN);
    significant.len() <= 15 && (significant.is_empty() || value.is_normal())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-21T12:00:00Z".parse().expect("time")
    }

    fn parse(text: &str) -> std::result::Result<Sidecar, String> {
        super::parse(text, now())
    }

    #[test]
    fn fields_and_extras() {
        let s = parse(r#"{"officer_id": 4711, "device_id": "CAM-9", "recorded_at": "2026-11-20T22:15:00+01:00", "shift": "night"}"#)
            .expect("valid");
        assert_eq!(s.officer_id.as_deref(), Some("4711"));
        assert_eq!(s.device_id.as_deref(), Some("CAM-9"));
        assert_eq!(
            crate::clock::canonical(s.recorded_at.expect("time")),
            "2026-11-20T21:15:00.000Z"
        );
        assert_eq!(s.extra.get("shift"), Some(&Value::String("night".into())));
        let big = parse(r#"{"officer_id": 18446744073709551615}"#).expect("whole number");
        assert_eq!(big.officer_id.as_deref(), Some("18446744073709551615"));
    }

    #[test]
    fn rejects_bad_sidecars() {
        assert!(parse("[1]").is_err());
        assert!(parse("{").is_err());
        assert!(
            parse(r#"{"recorded_at": "yesterday"}"#)
                .expect_err("bad time")
                .contains("recorded_at")
        );
        assert!(
            parse(r#"{"recorded_at": "2026-11-20T22:15:00"}"#).is_err(),
            "a time without offset is ambiguous"
        );
        assert!(parse(r#"{"officer_id": [1]}"#).is_err());
        // Numbers that would be kept rounded are not ids.
        assert!(parse(r#"{"officer_id": 123456789012345678901234567890}"#).is_err());
        assert!(parse(r#"{"device_id": 4.5}"#).is_err());
        // Nor are other fields' numbers kept rounded, however deep, and strings are not numbers.
        for text in [
            r#"{"case": 123456789012345678901234567890}"#,
            r#"{"case": -9223372036854775809}"#,
            r#"{"x": {"y": [1, 0.12345678901234567]}}"#,
            r#"{"x": 1e-320}"#,
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains("would not be kept exactly"), "{err}");
        }
        let fine = parse(
            r#"{"case": "123456789012345678901234567890", "n": [18446744073709551615, -9223372036854775808, 0.1, 1.50000000000000000000, 2.5e10, 0, -0.0], "s": "1e999 \" 123456789012345678901234567890"}"#,
        )
        .expect("exact numbers and number-like text");
        assert_eq!(
            fine.extra["case"],
            Value::String("123456789012345678901234567890".into())
        );
        // Times before 2000, or more than a day after the store's clock.
        for t in [
            "1999-12-31T23:59:59Z",
            "-0001-01-01T00:00:00Z",
            "2026-11-22T12:00:01Z",
        ] {
            let text = format!(r#"{{"recorded_at": "{t}"}}"#);
            assert!(parse(&text).is_err(), "{t}");
        }
        assert!(parse(r#"{"recorded_at": "2026-11-22T11:59:59Z"}"#).is_ok());
    }

    #[test]
    fn a_large_sidecar_is_refused_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.mp4.json");
        let pad = "x".repeat(MAX_BYTES as usize);
        std::fs::write(&path, format!(r#"{{"note": "{pad}"}}"#)).expect("write");
        let err = read(&path, now()).expect_err("too large").to_string();
        assert!(err.contains("larger than 65536 bytes"), "{err}");
        std::fs::write(&path, r#"{"officer_id": "7"}"#).expect("write");
        assert_eq!(
            read(&path, now()).expect("small").officer_id.as_deref(),
            Some("7")
        );
    }
}
