//! Financial Data Exchange (FDX) as data.
//!
//! FDX deployments run on FAPI (`shared/spec/fdx.md`, security baseline): every FAPI 2.0
//! Security Profile rule applies unchanged. What FDX adds is in registration: FDX client
//! metadata (FDX-DCR-02) and offline approval — a registered client has an `fdx_client_status`
//! that the data provider sets, and only `Approved` / `Tentative` clients get tokens
//! (FDX-ST-01, FDX-ST-02).

use super::{Policy, ProfileId, RegistrationExtension, fapi2_security};

pub fn policy() -> Policy {
    Policy { profile: ProfileId::Fdx, registration_extension: Some(RegistrationExtension::Fdx), ..fapi2_security::policy() }
}
