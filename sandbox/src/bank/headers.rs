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
//!
//! And on requests (FAPI 1.0 Part 1 §6.2.2, B-RS-13): a client may tell the bank when the
//! customer last authenticated (`x-fapi-auth-date`, an HTTP-date) and from where the customer
//! is connected (`x-fapi-customer-ip-address`). Valid values are accepted and logged; a value
//! in another format is refused with 400 so a client's bug shows up here rather than in a
//! bank's fraud checks.

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

/// The customer headers a client may send (FAPI 1.0 Part 1 §6.2.2).
pub const AUTH_DATE: &str = "x-fapi-auth-date";
pub const CUSTOMER_IP_ADDRESS: &str = "x-fapi-customer-ip-address";

/// Refuses a request whose `x-fapi-auth-date` is not an HTTP-date or whose
/// `x-fapi-customer-ip-address` is not an IPv4 or IPv6 address (B-RS-13: valid ones are
/// never refused).
pub async fn check_fapi_request_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(value) = headers.get(AUTH_DATE)
        && value.to_str().ok().and_then(parse_http_date).is_none()
    {
        return bad_header(&format!(
            "{AUTH_DATE} must be an HTTP-date such as \"Tue, 11 Sep 2012 19:43:31 GMT\" [FAPI1-Part1-6.2.2, RFC9110-5.6.7]"
        ));
    }
    if let Some(value) = headers.get(CUSTOMER_IP_ADDRESS)
        && value.to_str().ok().and_then(|v| v.trim().parse::<std::net::IpAddr>().ok()).is_none()
    {
        return bad_header(&format!(
            "{CUSTOMER_IP_ADDRESS} must be one IPv4 or IPv6 address [FAPI1-Part1-6.2.2, B-RS-13]"
        ));
    }
    if let Some(ip) = headers.get(CUSTOMER_IP_ADDRESS).and_then(|v| v.to_str().ok()) {
        tracing::info!(customer_ip = ip.trim(), "request on behalf of a present customer");
    }
    next.run(request).await
}

fn bad_header(description: &str) -> Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": "invalid_request", "error_description": description })),
    )
        .into_response()
}

/// Unix seconds of an HTTP-date (RFC 9110 §5.6.7): the IMF-fixdate, and the obsolete RFC 850
/// and asctime forms every recipient must also accept. The weekday must fit the date.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    let (weekday, day, month, year, time) = match parts.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [w, d, m, y, t, "GMT"] if w.len() == 4 && w.ends_with(',') && d.len() == 2 && y.len() == 4 => {
            (&w[..3], *d, *m, y.parse::<i64>().ok()?, *t)
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        [w, date, t, "GMT"] if w.ends_with(',') => {
            let full = &w[..w.len() - 1];
            let short = WEEKDAYS.iter().find(|s| full.len() > 3 && full.starts_with(*s) && FULL_WEEKDAYS.contains(&full))?;
            let mut pieces = date.split('-');
            let (d, m, y) = (pieces.next()?, pieces.next()?, pieces.next()?);
            if pieces.next().is_some() || d.len() != 2 || y.len() != 2 {
                return None;
            }
            // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
            let yy = y.parse::<i64>().ok()?;
            let this_year = fapilab_jose::civil_from_days(fapilab_jose::now().div_euclid(86_400)).0;
            let mut year = this_year - this_year % 100 + yy;
            if year > this_year + 50 {
                year -= 100;
            }
            (*short, d, m, year, *t)
        }
        // Sun Nov  6 08:49:37 1994
        [w, m, d, t, y] if w.len() == 3 && y.len() == 4 && (1..=2).contains(&d.len()) => (*w, *d, *m, y.parse::<i64>().ok()?, *t),
        _ => return None,
    };
    if !day.bytes().all(|b| b.is_ascii_digit()) || !year_is_plain(year) {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let mut hms = time.split(':');
    let (h, mi, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, mi, s].iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (h, mi, s): (i64, i64, i64) = (h.parse().ok()?, mi.parse().ok()?, s.parse().ok()?);
    // RFC 9110 §5.6.7: seconds may be 60 (a leap second).
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    if WEEKDAYS[(days + 4).rem_euclid(7) as usize] != weekday {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

const FULL_WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn year_is_plain(year: i64) -> bool {
    (0..=9999).contains(&year)
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (inverse of `civil_from_days`).
fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day == 0 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let shifted_month = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
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
    let (year, month, day) = fapilab_jose::civil_from_days(days);
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
    fn http_dates_in_all_three_forms_and_nothing_else() {
        // RFC 9110 §5.6.7's example in its three forms.
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(parse_http_date("Tue, 11 Sep 2012 19:43:31 GMT"), Some(1_347_392_611));
        for bad in [
            "",
            "2012-09-11T19:43:31Z",
            "1347392611",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
        for unix in [0, 951_782_400, 1_767_225_599, 4_102_444_800] {
            assert_eq!(parse_http_date(&imf_fixdate(unix)), Some(unix), "{unix}");
        }
    }

    proptest::proptest! {
        #[test]
        fn http_date_parsing_never_panics(s in ".{0,60}") {
            let _ = parse_http_date(&s);
        }
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
