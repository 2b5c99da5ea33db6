//! FAPI 2.0 Message Signing (Final) as data: the Security Profile, plus signed request objects
//! inside PAR (MS-AS-01..MS-AS-09) and signed authorization responses (JARM, MS-JARM-01,
//! MS-JARM-06). Signed introspection responses (MS-JIR-01) are offered by every workspace on
//! request, so they need no switch here.
//!
//! Requirement ids refer to `shared/spec/fapi2-message-signing.md`.

use super::{JARM_MODES, Policy, ProfileId, RequestObjects, ResponseRule, fapi2_security};

pub fn policy() -> Policy {
    Policy {
        profile: ProfileId::Fapi2MessageSigning,
        // MS-AS-01
        request_objects: RequestObjects::RequiredInPar,
        // MS-JARM-01, MS-JARM-06: JARM only, named by the client
        responses: &[ResponseRule { response_type: "code", response_modes: &JARM_MODES, default_mode: None }],
        ..fapi2_security::policy()
    }
}
