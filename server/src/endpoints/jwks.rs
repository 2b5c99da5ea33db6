//! The workspace's public keys (RFC 7517), served only over TLS (FAPI2-SP-CR-07).

use axum::Json;
use axum::response::IntoResponse;

use crate::http::Ws;

pub async fn jwks(Ws(ws): Ws) -> impl IntoResponse {
    Json(ws.public_jwks.clone())
}
