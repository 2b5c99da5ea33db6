//! Passkeys (WebAuthn) at the target, driven without a browser (`shared/spec/passkeys.md` §6):
//! the module's software passkey ([`authenticator`]), a browser whose cookies the harness holds
//! ([`browser`]), and what the passkey steps share in a module: the account page signed in
//! with the target user's password and the passkeys registered there.

pub mod authenticator;
pub mod browser;
mod cbor;

use authenticator::SoftAuthenticator;
use browser::Browser;

/// The account page, signed in (a browser with the session), and its CSRF token.
#[derive(Debug, Clone)]
pub struct Account {
    pub browser: Browser,
    pub page_url: String,
    pub csrf_token: String,
}

/// A passkey the module registered.
#[derive(Debug, Clone)]
pub struct RegisteredPasskey {
    pub credential_id: Vec<u8>,
    /// The name it was registered under (unique: modules run concurrently for one user).
    pub name: String,
    /// Its id on the account page (`data-passkey-id`, the remove form's `passkey_id`).
    pub listed_id: String,
    /// The `credential` the server accepted (the registration replay posts it again, REG-03).
    pub response_json: String,
    /// A `passkey_remove` step removed it.
    pub removed: bool,
}

/// The module's passkey state.
#[derive(Debug, Default)]
pub struct PasskeyState {
    pub authenticator: SoftAuthenticator,
    pub account: Option<Account>,
    pub registered: Vec<RegisteredPasskey>,
}

impl PasskeyState {
    /// The passkey the next sign-in uses: the one registered last (removed or not).
    pub fn current(&self) -> Option<&RegisteredPasskey> {
        self.registered.last()
    }
}

/// `origin` with another port (REG-04, AUTH-04: the origin is scheme, host and port): the next
/// port, or 8443 for an origin on the scheme's default port.
pub fn other_port(origin: &str) -> String {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("https", origin));
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
            let next = port.parse::<u16>().map_or(8443, |p| if p == u16::MAX { 8443 } else { p + 1 });
            format!("{scheme}://{host}:{next}")
        }
        _ => format!("{scheme}://{authority}:8443"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_port_of_the_same_host() {
        assert_eq!(other_port("https://localhost:8443"), "https://localhost:8444");
        assert_eq!(other_port("https://login.example"), "https://login.example:8443");
        assert_eq!(other_port("https://[::1]:443"), "https://[::1]:444");
        assert_eq!(other_port("https://[::1]"), "https://[::1]:8443");
    }
}
