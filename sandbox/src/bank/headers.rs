//! Headers on every bank response, refused requests included.
//!
//! * `x-fapi-interaction-id`: the client's value is echoed so it can correlate logs; when the
//!   client sent none (or an unusable one) the bank makes a fresh RFC 9562 version-4 UUID, as
//!   open-finance APIs built on FAPI expect of a resource server.
//! * `Date` as an RFC 9110 §5.6.7 IMF-fixdate. hyper adds one on real connections, but the
//!   router is also driven directly (tests with `tower::ServiceExt::oneshot`), so it is set
//!   here and hyper keeps it.
//! * `Cache-Control: no-store`: account data and token errors are never cached.
//! * `X-Content-Type-Options: nosniff`.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The header FAPI clients use to correlate a request with the bank's answer.
pub const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// Longest client interaction id echoed back; longer values are replaced.
const MAX_INTERACTION_ID_LEN: usize = 128;

/// Adds the headers every response carries (see the module documentation).
pub async fn response_headers(request: Request, next: Next) -> Response {
    let interaction_id = request
        .headers()
        .get(INTERACTION_ID)
        .filter(|v| usable_interaction_id(v.as_bytes()))
        .cloned()
        .or_else(|| HeaderValue::from_str(&uuid_v4()).ok());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(id) = interaction_id {
        headers.insert(INTERACTION_ID, id);
    }
    if let Ok(date) = HeaderValue::from_str(&imf_fixdate(fapilab_jose::now())) {
        headers.insert(header::DATE, date);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Visible ASCII, 1 to 128 characters: what can be echoed without surprising anyone.
fn usable_interaction_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_INTERACTION_ID_LEN
        && value.iter().all(|b| b.is_ascii_graphic())
}

/// A random RFC 9562 version-4 UUID in its usual lowercase text form.
pub fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The id only correlates log lines; it guards nothing. Should the random source
        // ever fail, a clock-and-counter value keeps ids distinct.
        bytes = fallback_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn fallback_bytes() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..].copy_from_slice(&count.to_be_bytes());
    bytes
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Unix seconds as an RFC 9110 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn imf_fixdate(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} GMT",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1..=12, day 1..=31), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn imf_fixdate_matches_the_rfc_example() {
        // RFC 9110 §5.6.7.
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(1_767_225_599), "Wed, 31 Dec 2025 23:59:59 GMT");
        assert_eq!(imf_fixdate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
    }

    #[test]
    fn uuids_are_version_4() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        assert!(is_uuid_v4(&a), "{a}");
    }

    pub(crate) fn is_uuid_v4(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && s.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            && parts[2].starts_with('4')
            && parts[3].starts_with(['8', '9', 'a', 'b'])
    }

    #[test]
    fn odd_interaction_ids_are_not_echoed() {
        assert!(usable_interaction_id(
            b"93bac548-d2de-4546-b106-880a5018460d"
        ));
        assert!(!usable_interaction_id(b""));
        assert!(!usable_interaction_id(b"has space"));
        assert!(!usable_interaction_id(&[b'a'; 129]));
    }
}
