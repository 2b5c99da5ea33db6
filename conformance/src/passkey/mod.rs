//! Passkeys (WebAuthn) at the target, driven without a browser (`shared/spec/passkeys.md` §6):
//! the module's software passkey ([`authenticator`]), registrations built by hand
//! ([`hand_built`]), a browser whose cookies the harness holds ([`browser`]), and what the
//! passkey steps share in a module: the account page signed in with the target user's password
//! and the passkeys registered there.

pub mod authenticator;
pub mod browser;
mod cbor;
pub mod hand_built;

use authenticator::SoftAuthenticator;
use browser::Browser;

/// The account page, signed in (a browser with the session), and its CSRF token.
#[derive(Debug, Clone)]
pub struct Account {
    pub browser: Browser,
    pub page_url: String,
    pub csrf_token: String,
}

/// A registration the server accepted although the step expected a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongAcceptance {
    /// The rules the refusal enforces.
    pub rules: Vec<String>,
    /// The broken rule in words.
    pub what: String,
    /// The scenario line of the step.
    pub line: usize,
}

/// A passkey the account page listed after one of the module's registrations.
#[derive(Debug, Clone)]
pub struct RegisteredPasskey {
    pub credential_id: Vec<u8>,
    /// The name it was registered under (unique: modules run concurrently for one user).
    pub name: String,
    /// Its id on the account page (`data-passkey-id`, the remove form's `passkey_id`).
    pub listed_id: String,
    /// The `credential` the server accepted (the registration replay posts it again, REG-03).
    pub response_json: String,
    /// The flags of the registration's authenticator data (BE: which key `amr` names).
    pub flags: u8,
    /// The module's software passkey made it and can sign with it (not one built by hand).
    pub held: bool,
    /// Listed although the step expected a refusal: kept only to be removed again.
    pub wrongly_accepted: Option<WrongAcceptance>,
    /// A `passkey_remove` step (or the clean-up) removed it.
    pub removed: bool,
}

impl RegisteredPasskey {
    /// A passkey the module meant to register and can sign in with.
    fn signs_in(&self) -> bool {
        self.held && self.wrongly_accepted.is_none()
    }
}

/// The module's passkey state.
#[derive(Debug, Default)]
pub struct PasskeyState {
    pub authenticator: SoftAuthenticator,
    pub account: Option<Account>,
    /// Every passkey seen listed after one of the module's registrations, in order.
    pub registered: Vec<RegisteredPasskey>,
    /// The passkey of the module's last successful passkey sign-in (its `amr` is checked).
    pub signed_in_with: Option<RegisteredPasskey>,
}

impl PasskeyState {
    /// The passkey the next sign-in uses: the software passkey's credential that a valid
    /// registration added last (removed or not).
    pub fn current(&self) -> Option<&RegisteredPasskey> {
        self.registered.iter().rev().find(|p| p.signs_in())
    }

    /// Where [`PasskeyState::current`] is in `registered`.
    pub fn current_index(&self) -> Option<usize> {
        self.registered.iter().rposition(RegisteredPasskey::signs_in)
    }

    /// Records a passkey the account page lists, once per listed id still there (a replayed or
    /// duplicate registration may be listed under the id of one recorded already).
    pub fn record(&mut self, passkey: RegisteredPasskey) {
        if !self.registered.iter().any(|p| !p.removed && p.listed_id == passkey.listed_id) {
            self.registered.push(passkey);
        }
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

    fn passkey(id: u8, held: bool, wrong: bool) -> RegisteredPasskey {
        RegisteredPasskey {
            credential_id: vec![id],
            name: format!("n{id}"),
            listed_id: format!("l{id}"),
            response_json: String::new(),
            flags: 0x45,
            held,
            wrongly_accepted: wrong.then(|| WrongAcceptance { rules: vec!["REG-09".into()], what: "x".into(), line: 3 }),
            removed: false,
        }
    }

    #[test]
    fn the_current_passkey_is_the_last_valid_one_the_authenticator_holds() {
        let mut state = PasskeyState::default();
        assert!(state.current().is_none());
        state.record(passkey(1, true, false));
        state.record(passkey(2, true, true));
        state.record(passkey(3, false, false));
        assert_eq!((state.current().map(|p| p.credential_id.clone()), state.current_index()), (Some(vec![1]), Some(0)));
        // Listed twice under one id (a replay accepted): recorded once while it is there.
        state.record(passkey(1, true, true));
        assert_eq!(state.registered.len(), 3);
        state.registered[0].removed = true;
        assert_eq!(state.current_index(), Some(0), "removed, it is still the one a sign-in uses");
        state.record(passkey(1, true, false));
        assert_eq!((state.registered.len(), state.current_index()), (4, Some(3)));
    }

    #[test]
    fn another_port_of_the_same_host() {
        assert_eq!(other_port("https://localhost:8443"), "https://localhost:8444");
        assert_eq!(other_port("https://login.example"), "https://login.example:8443");
        assert_eq!(other_port("https://[::1]:443"), "https://[::1]:444");
        assert_eq!(other_port("https://[::1]"), "https://[::1]:8443");
    }
}
