//! The account endpoints. They run only after `token_check` has admitted the request, and
//! read the caller from its [`AccessGrant`]: the data shown is the token subject's.

use axum::Json;
use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::data;
use super::token_check::AccessGrant;

/// `GET /accounts`.
pub async fn list_accounts(Extension(grant): Extension<AccessGrant>) -> Response {
    Json(json!({ "sub": grant.subject, "accounts": data::accounts(&grant.subject) }))
        .into_response()
}

/// `GET /accounts/{id}`.
pub async fn account(Extension(grant): Extension<AccessGrant>, Path(id): Path<String>) -> Response {
    match data::account(&grant.subject, &id) {
        Some(account) => Json(json!({ "account": account })).into_response(),
        None => no_such_account(),
    }
}

/// `GET /accounts/{id}/balances`.
pub async fn balances(
    Extension(grant): Extension<AccessGrant>,
    Path(id): Path<String>,
) -> Response {
    match data::balances(&grant.subject, &id) {
        Some(balances) => Json(json!({ "account_id": id, "balances": balances })).into_response(),
        None => no_such_account(),
    }
}

/// `GET /accounts/{id}/transactions`.
pub async fn transactions(
    Extension(grant): Extension<AccessGrant>,
    Path(id): Path<String>,
) -> Response {
    match data::transactions(&grant.subject, &id) {
        Some(transactions) => {
            Json(json!({ "account_id": id, "transactions": transactions })).into_response()
        }
        None => no_such_account(),
    }
}

fn no_such_account() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "the token's subject holds no account with this id",
    )
}

/// Any path the bank does not serve.
pub async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: the bank serves GET /accounts, /accounts/{id}, /accounts/{id}/balances and /accounts/{id}/transactions",
    )
}

/// A served path with another method than GET.
pub async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the account endpoints accept only GET",
    )
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}
