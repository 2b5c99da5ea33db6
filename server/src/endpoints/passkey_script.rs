//! `GET {issuer}/passkey.js`: the passkey ceremonies' script for the login and account pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The passkey ceremonies' script (`server/assets/passkey.js`), from this origin so the pages'
/// policy can allow it (`script-src 'self'`).
pub async fn script() -> Response {
    let mut response = (StatusCode::OK, include_str!("../../assets/passkey.js")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
