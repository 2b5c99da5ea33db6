//! One file per endpoint. Handlers are thin: extract, call the protocol code, answer.

pub mod account;
pub mod admin;
pub mod admin_openapi;
pub mod admin_passkeys;
pub mod admin_themes;
pub mod authorize;
pub mod backchannel;
pub mod ciba_device;
pub mod consent;
pub mod discovery;
pub mod fdx_status;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod otp;
pub mod par;
pub mod passkey_login;
pub mod passkey_script;
pub mod password_change;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;
