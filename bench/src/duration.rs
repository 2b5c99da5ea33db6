//! Durations on the command line: `10s`, `1m`, `500ms`, `1m30s`, `1.5s`, `2h`; a bare number
//! is seconds.

use std::time::Duration;

use crate::BenchError;

/// Parses a duration (see the module documentation). Negative, empty and malformed values
/// are usage errors; zero is allowed (the caller decides whether it makes sense).
pub fn parse_duration(text: &str) -> Result<Duration, BenchError> {
    let bad = |why: &str| {
        BenchError::Usage(format!(
            "duration {text:?}: {why} (examples: 10s, 1m, 500ms, 1m30s)"
        ))
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad("not a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let scale = match unit {
            "" if rest.is_empty() && total == 0.0 => 1.0,
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad("unknown unit (ms, s, m, h)")),
        };
        total += number * scale;
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad("too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// `1m30s`, `10s`, `250ms`: the inverse of [`parse_duration`] for reports.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration(" 0s ").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_malformed() {
        for bad in ["", "s", "10x", "-1s", "1..2s", "10 seconds", "1m30", "ms10"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn formats_round_trip() {
        for d in ["10s", "1m", "1m30s", "250ms"] {
            assert_eq!(format_duration(parse_duration(d).unwrap()), d);
        }
    }
}
