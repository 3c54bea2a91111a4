//! The dock's optional sidecar `<file>.json`: `officer_id`, `device_id`, `recorded_at` (RFC 3339,
//! stored as UTC); every other field is kept as given.

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

/// Reads and validates a sidecar.
pub fn read(path: &Path) -> Result<Sidecar> {
    let fail = |reason: String| Error::Sidecar {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse(&text).map_err(fail)
}

/// Parses sidecar text.
pub fn parse(text: &str) -> std::result::Result<Sidecar, String> {
    let Value::Object(mut map) =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("not a JSON object".into());
    };
    let mut take_str = |key: &str| -> std::result::Result<Option<String>, String> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
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
    Ok(Sidecar {
        officer_id,
        device_id,
        recorded_at,
        extra: map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
