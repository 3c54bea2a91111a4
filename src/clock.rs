//! Time. `Clock` is the only way the library learns the time, so tests can fix it.
//! All timestamps are UTC; canonical text form is RFC 3339 with milliseconds and `Z`.

use jiff::Timestamp;

/// Source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant (UTC).
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock stopped at one instant (tests, reproducible runs).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// An instant from RFC 3339 text, or from a date (its midnight, UTC); the refusal says how to
/// write one.
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!(
                "{text:?} is neither a date (YYYY-MM-DD, e.g. 2026-11-21) nor an instant \
                 (e.g. 2026-11-21T08:30:00Z)"
            )
        })
}

/// Canonical UTC text for a timestamp: `YYYY-MM-DDTHH:MM:SS.mmmZ` (always milliseconds, always Z).
pub fn canonical(ts: Timestamp) -> String {
    let ms = ts.as_millisecond();
    let whole = Timestamp::from_millisecond(ms - ms.rem_euclid(1000)).unwrap_or(ts);
    format!(
        "{}.{:03}Z",
        whole.strftime("%Y-%m-%dT%H:%M:%S"),
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_fixed_width_utc() {
        let ts: Timestamp = "2026-11-21T13:53:00.5+02:00".parse().expect("valid");
        assert_eq!(canonical(ts), "2026-11-21T11:53:00.500Z");
        let ts: Timestamp = "2026-01-02T03:04:05Z".parse().expect("valid");
        assert_eq!(canonical(ts), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn fixed_clock_is_fixed() {
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid");
        let c = FixedClock(t);
        assert_eq!(c.now(), c.now());
        assert_eq!(c.now(), t);
    }
}
