//! UTC timestamps without a date library: RFC 3339 with microseconds.
//!
//! Recordings need only two things from calendars: print a UTC time, and
//! read back what was printed. Both are exact integer arithmetic over days
//! since the UNIX epoch (Howard Hinnant's civil-date algorithms).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the UNIX epoch.
pub fn unix_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_micros() as u64
}

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: u64,
    mi: u64,
    s: u64,
    us: u64,
}

fn parts(micros: u64) -> Parts {
    let secs = micros / 1_000_000;
    let (y, mo, d) = civil((secs / 86_400) as i64);
    let sod = secs % 86_400;
    Parts { y, mo, d, h: sod / 3600, mi: sod / 60 % 60, s: sod % 60, us: micros % 1_000_000 }
}

/// `2026-11-24T10:00:00.000123Z`.
pub fn rfc3339_micros(micros: u64) -> String {
    let p = parts(micros);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", p.y, p.mo, p.d, p.h, p.mi, p.s, p.us)
}

/// `10:00:00.123`: the UTC time of day to the millisecond (live lines).
pub fn clock_millis(micros: u64) -> String {
    let p = parts(micros);
    format!("{:02}:{:02}:{:02}.{:03}", p.h, p.mi, p.s, p.us / 1000)
}

/// `2026-11-24T10:00:00.000Z`, Autobahn's `started` format.
pub fn rfc3339_millis(micros: u64) -> String {
    let p = parts(micros);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.y, p.mo, p.d, p.h, p.mi, p.s, p.us / 1000)
}

/// `20261124T100000.000123Z`: sorts by time, safe in file names.
pub fn file_stamp(micros: u64) -> String {
    let p = parts(micros);
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z", p.y, p.mo, p.d, p.h, p.mi, p.s, p.us)
}

/// Reads back [`rfc3339_micros`] output (any number of fraction digits).
/// `None` for anything else, including dates outside 1970–9999 or fields
/// out of range (month 13, hour 24): crafted recordings get a clear
/// "not an RFC 3339 UTC time" from callers, never an overflow.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = text.trim().strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<u32>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut c = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, s) = (c.next()??, c.next()??, c.next()??);
    let in_range = (1970..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&day)
        && h < 24
        && mi < 60
        && s < 61;
    if !in_range || d.next().is_some() || c.next().is_some() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let us: u64 = digits.parse().ok()?;
    let days = u64::try_from(days_from_civil(i64::from(y), mo, day)).ok()?;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000 + us)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        // 2020-01-09T22:33:55.393Z, the Autobahn sample's start.
        let t = 1_578_609_235_393_000;
        assert_eq!(rfc3339_millis(t), "2020-01-09T22:33:55.393Z");
        assert_eq!(rfc3339_micros(t + 7), "2020-01-09T22:33:55.393007Z");
        assert_eq!(file_stamp(t), "20200109T223355.393000Z");
        for probe in [0, t, 951_782_400_000_001, 4_102_444_800_999_999] {
            assert_eq!(parse_rfc3339(&rfc3339_micros(probe)), Some(probe));
        }
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800_000_000));
    }

    #[test]
    fn out_of_range_times_are_refused_not_overflowed() {
        for text in [
            "99999999999999999-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:00.12x4Z",
            "2026-01-01-01T00:00:00Z",
            "2026-01-01T00:00:00:00Z",
            "2026-01-01T00:00:00.-1Z",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
        assert!(parse_rfc3339("9999-12-31T23:59:60.999999Z").is_some());
    }
}
