//! One file per grant type (fosite style). Each takes an authenticated client and its
//! sender binding and returns the token response body.

pub mod authorization_code;
pub mod ciba;
pub mod client_credentials;
pub mod refresh_token;
