//! The one parser for every duration on the command line.
//!
//! Durations are written `50ms`, `1.5s`, `250us` or as a bare number in the
//! flag's own unit (milliseconds for `diff --timing`, seconds for the
//! connect timeouts, as their help says). Every value is range-checked
//! before it becomes a [`Duration`]: `1e30`, `inf` or a 30-digit number of
//! seconds is a usage error naming the flag's limits, never a panic in
//! `Duration::from_secs_f64`.

use std::time::Duration;

/// The longest duration any flag takes.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The unit of a bare number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds.
    Secs,
    /// Milliseconds.
    Millis,
}

/// Parses a duration whose bare numbers are in `bare`; zero is refused
/// unless `zero_ok`.
pub fn parse(text: &str, bare: Unit, zero_ok: bool) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(number_len(t));
    let example = "a duration like 50ms, 1.5s or 250us";
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not {example}"))?;
    let scale = match unit.trim() {
        "" => match bare {
            Unit::Secs => 1.0,
            Unit::Millis => 1e-3,
        },
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        other => return Err(format!("unknown unit {other:?} in {text:?}: use s, ms or us")),
    };
    let secs = value * scale;
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(format!("{text:?} is too long: at most {}s (24 hours)", MAX_DURATION.as_secs()));
    }
    let duration = Duration::from_secs_f64(secs);
    if duration.is_zero() && !zero_ok {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(duration)
}

/// Length of the leading number: digits and dots, then an optional
/// exponent (`1e30`), so that the rest is the unit.
fn number_len(t: &str) -> usize {
    let b = t.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_digit() || **c == b'.').count();
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let digits = b[(i + 1 + sign).min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            i += 1 + sign + digits;
        }
    }
    i
}

/// `diff --timing`: bare numbers are milliseconds; zero is allowed.
pub fn tolerance(text: &str) -> Result<Duration, String> {
    parse(text, Unit::Millis, true)
}

/// Connect timeouts: bare numbers are seconds; zero is refused.
pub fn timeout(text: &str) -> Result<Duration, String> {
    parse(text, Unit::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_numbers() {
        assert_eq!(tolerance("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(tolerance("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(tolerance("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(tolerance("20"), Ok(Duration::from_millis(20)));
        assert_eq!(tolerance("0"), Ok(Duration::ZERO));
        assert_eq!(timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(timeout("86400s"), Ok(MAX_DURATION));
        assert_eq!(timeout("1e3ms"), Ok(Duration::from_secs(1)));
        assert_eq!(timeout("2E-1s"), Ok(Duration::from_millis(200)));
    }

    #[test]
    fn nonsense_is_a_clear_error_not_a_panic() {
        for (text, want) in [
            ("5 parsecs", "unknown unit"),
            ("-1s", "is not a duration"),
            ("1e30", "too long"),
            ("1e3x", "unknown unit \"x\""),
            ("inf", "is not a duration"),
            ("NaN", "is not a duration"),
            ("100000000000000000000000s", "too long"),
            ("86401", "too long"),
            ("", "is not a duration"),
            (".", "is not a duration"),
        ] {
            let err = timeout(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert!(timeout("0").unwrap_err().contains("more than zero"));
        assert!(timeout("0.0000000001").unwrap_err().contains("more than zero"));
    }
}
