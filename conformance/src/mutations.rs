//! Mutations: named changes a scenario applies to what one step sends. Each belongs to the
//! steps listed here; the loader validates scenario files against this table (through
//! [`crate::execute::catalog`]).

/// One mutation: its name, the steps that accept it, and what it changes.
#[derive(Debug, Clone, Copy)]
pub struct Mutation {
    pub name: &'static str,
    pub steps: &'static [&'static str],
    pub summary: &'static str,
}

const PAR: &[&str] = &["par"];
const AUTHZ: &[&str] = &["authorize"];
/// Front-channel changes a scenario may state at PAR (kept for the authorize step) or at
/// `authorize` itself.
const PAR_OR_AUTHZ: &[&str] = &["par", "authorize"];
const TOKEN: &[&str] = &["token"];
const BACK: &[&str] = &["par", "token", "refresh"];
const RESOURCE: &[&str] = &["call_resource"];
const DPOP_ANY: &[&str] = &["par", "token", "refresh", "call_resource"];
/// Proof mutations that make sense wherever a proof is checked against its request: PAR, the
/// token endpoint, UserInfo and the resource.
const PROOF_AT_REQUEST: &[&str] = &["par", "token", "userinfo", "call_resource"];
/// Proof mutations about `ath`: only where an access token is presented.
const PROOF_WITH_TOKEN: &[&str] = &["userinfo", "call_resource"];

const REGISTER: &[&str] = &["register"];
/// Requests with the registration access token at the client configuration endpoint.
const MANAGE: &[&str] = &["read_registration", "update_registration", "delete_registration"];
const UPDATE: &[&str] = &["update_registration"];
const STATUS: &[&str] = &["set_fdx_status"];
/// CIBA authentication requests (OpenID CIBA Core §7.1, §7.1.1).
const BC: &[&str] = &["backchannel_authorize"];
/// The passkey ceremonies (`shared/spec/passkeys.md` §2, §4).
const PASSKEY_REGISTER: &[&str] = &["passkey_register"];
const PASSKEY_LOGIN: &[&str] = &["passkey_login"];
const PASSKEY_BOTH: &[&str] = &["passkey_register", "passkey_login"];

/// Every mutation.
pub const ALL: &[Mutation] = &[
    // PAR request contents
    Mutation { name: "drop_pkce", steps: PAR, summary: "no code_challenge (FAPI2-SP-AZ-05)" },
    Mutation { name: "pkce_plain", steps: PAR, summary: "code_challenge_method=plain with the verifier as challenge (FAPI2-SP-AZ-05)" },
    Mutation { name: "drop_redirect_uri", steps: PAR, summary: "no redirect_uri (FAPI2-SP-AZ-06)" },
    Mutation { name: "unregistered_redirect_uri", steps: PAR, summary: "a redirect_uri the client never registered (FAPI2-SP-AS-07)" },
    Mutation {
        name: "redirect_uri_with_query",
        steps: PAR,
        summary: "the client's second redirect URI, with ?dummy1=lorem&dummy2=ipsum unless it has a query",
    },
    Mutation { name: "response_type_code_id_token", steps: PAR, summary: "response_type=code id_token (FAPI2-SP-AZ-01)" },
    Mutation { name: "response_type_token", steps: PAR, summary: "response_type=token (FAPI2-SP-AZ-01)" },
    Mutation {
        name: "request_uri_in_par_body",
        steps: PAR,
        summary: "a request_uri parameter in the pushed request (PAR-04); next to `request` in plans with signed requests (MS-AS-09)",
    },
    Mutation { name: "drop_state", steps: PAR, summary: "no state" },
    Mutation { name: "long_state", steps: PAR, summary: "a 1000-character state (FAPI2-SP-AZ-17)" },
    Mutation { name: "drop_nonce", steps: PAR, summary: "no nonce (openid variants)" },
    Mutation { name: "nonce_64", steps: PAR, summary: "a 64-character nonce (FAPI2-SP-AZ-14)" },
    Mutation { name: "nonce_384", steps: PAR, summary: "a 384-character nonce (FAPI2-SP-AZ-14: may be refused)" },
    Mutation { name: "reverse_scope_order", steps: PAR, summary: "scope tokens in reverse order" },
    Mutation {
        name: "response_type_code",
        steps: PAR,
        summary: "response_type=code without response_mode=jwt: refused under FAPI 1.0 Advanced (A-AS-02)",
    },
    Mutation {
        name: "pkce_by_value",
        steps: PAR,
        summary: "PKCE S256 in a by-value request, where FAPI 1.0 Advanced requires it only with PAR (A-AS-18): must not break it",
    },
    Mutation {
        name: "scope_only_outside",
        steps: PAR,
        summary: "no scope in the request object, the scope only in the authorization URL (A-AS-10, A-AS-23)",
    },
    Mutation {
        name: "redirect_uri_only_outside",
        steps: PAR,
        summary: "no redirect_uri in the request object, the redirect_uri only in the authorization URL (A-AS-10, A-AS-23)",
    },
    Mutation { name: "state_outside_par", steps: PAR_OR_AUTHZ, summary: "a state added to the authorization URL only; at par it also pushes no state (PAR-11)" },
    Mutation { name: "nonce_outside_par", steps: PAR_OR_AUTHZ, summary: "a different nonce added to the authorization URL only (PAR-11)" },
    Mutation { name: "dpop_jkt_mismatch", steps: PAR, summary: "dpop_jkt of another key than the PAR DPoP proof's (DP-C-01)" },
    Mutation { name: "dpop_jkt_only", steps: PAR, summary: "dpop_jkt and no DPoP header (RFC 9449 §10)" },
    // signed request objects (RFC 9101 inside RFC 9126 §3; MS-AS-01…MS-AS-09): only in plans
    // with request_method = "signed"
    Mutation {
        name: "no_request_object",
        steps: PAR,
        summary: "every authorization parameter as a plain form parameter, no `request` (MS-AS-01)",
    },
    Mutation { name: "request_object_no_aud", steps: PAR, summary: "request object without aud (MS-AS-02)" },
    Mutation { name: "request_object_aud_other", steps: PAR, summary: "request object aud = another server (MS-AS-02)" },
    Mutation {
        name: "request_object_aud_array",
        steps: PAR,
        summary: "request object aud = [issuer, another server]: must be accepted (MS-AS-02)",
    },
    Mutation {
        name: "request_object_aud_par_url",
        steps: PAR,
        summary: "request object aud = the PAR endpoint URL, not the issuer (A-AS-15)",
    },
    Mutation { name: "request_object_no_nbf", steps: PAR, summary: "request object without nbf (MS-AS-03)" },
    Mutation {
        name: "request_object_nbf_70_minutes_ago",
        steps: PAR,
        summary: "request object nbf 70 minutes ago, exp in 5 minutes (MS-AS-03)",
    },
    Mutation {
        name: "request_object_nbf_plus_8",
        steps: PAR,
        summary: "request object iat and nbf 8 s ahead: should be accepted (FAPI2-SP-AS-14)",
    },
    Mutation { name: "request_object_no_exp", steps: PAR, summary: "request object without exp (MS-AS-04)" },
    Mutation { name: "request_object_expired", steps: PAR, summary: "request object exp a minute ago (nbf 6 minutes ago) (MS-AS-04)" },
    Mutation {
        name: "request_object_exp_over_60_minutes",
        steps: PAR,
        summary: "request object exp 70 minutes after its nbf (MS-AS-04)",
    },
    Mutation { name: "request_object_alg_none", steps: PAR, summary: "unsigned request object: alg none, no signature (MS-AS-06)" },
    Mutation {
        name: "request_object_bad_signature",
        steps: PAR,
        summary: "request object with valid claims and a corrupted signature (MS-AS-06)",
    },
    Mutation {
        name: "request_object_other_key",
        steps: PAR,
        summary: "request object signed with client 2's key (MS-AS-06)",
    },
    Mutation { name: "request_object_rs256", steps: PAR, summary: "request object signed RS256 (MS-AS-06, FAPI2-SP-CR-02)" },
    Mutation {
        name: "request_object_client_id_other",
        steps: PAR,
        summary: "request object client_id (and iss) = client 2, sent by client 1 (MS-AS-07)",
    },
    Mutation {
        name: "request_object_iss_other",
        steps: PAR,
        summary: "request object iss = client 2, client_id = client 1 (MS-AS-07)",
    },
    Mutation {
        name: "request_object_no_typ",
        steps: PAR,
        summary: "request object without a typ header: must be accepted (MS-AS-05, RFC 9101 §10.8)",
    },
    Mutation {
        name: "request_object_with_request_uri",
        steps: PAR,
        summary: "a request_uri claim inside the request object (MS-AS-09, RFC 9101 §4)",
    },
    Mutation {
        name: "params_outside_request_object",
        steps: PAR,
        summary: "form parameters next to `request` with another redirect_uri, state, nonce and code_challenge: \
                  the object's must win (MS-AS-08)",
    },
    // JARM response modes (MS-JARM-01, MS-JARM-06): only in plans with response_mode = "jarm",
    // where `response_mode=jwt` is the default
    Mutation { name: "response_mode_query_jwt", steps: PAR, summary: "response_mode=query.jwt (MS-JARM-06, JARM 4.3.1)" },
    Mutation { name: "response_mode_fragment_jwt", steps: PAR, summary: "response_mode=fragment.jwt (MS-JARM-06, JARM 4.3.2)" },
    Mutation { name: "response_mode_form_post_jwt", steps: PAR, summary: "response_mode=form_post.jwt (MS-JARM-06, JARM 4.3.3)" },
    Mutation {
        name: "response_mode_query",
        steps: PAR,
        summary: "response_mode=query: refused under JARM (MS-JARM-01, A-AS-02); with code id_token refused or ignored (A-AS-22)",
    },
    Mutation { name: "drop_response_mode", steps: PAR, summary: "no response_mode: refused (MS-JARM-01)" },
    // authorization request
    Mutation { name: "reorder_authorize_params", steps: PAR_OR_AUTHZ, summary: "request_uri before client_id in the authorization URL" },
    Mutation {
        name: "no_par",
        steps: AUTHZ,
        summary: "a classic authorization URL with every parameter and neither request_uri nor request (FAPI2-SP-AZ-03, A-AS-01)",
    },
    Mutation { name: "other_client_id", steps: AUTHZ, summary: "client 2's client_id with this client's request_uri (FAPI2-SP-AZ-16)" },
    // token request
    Mutation { name: "drop_code_verifier", steps: TOKEN, summary: "no code_verifier (FAPI2-SP-AZ-05)" },
    Mutation { name: "wrong_code_verifier", steps: TOKEN, summary: "another code_verifier (FAPI2-SP-AZ-05)" },
    Mutation {
        name: "use_client_2",
        steps: &["token", "refresh"],
        summary: "token: client 2's credentials (and certificate) with this client's code and DPoP key (OA-04); \
                  refresh: client 2's refresh token with this client's credentials (RFC 6749 §6)",
    },
    Mutation {
        name: "token_redirect_uri_mismatch",
        steps: TOKEN,
        summary: "redirect_uri = the client's other registered redirect URI, not the authorization request's (OA-04)",
    },
    // client authentication (private_key_jwt assertions; PKJ-02, FAPI2-SP-AS-08)
    Mutation { name: "assertion_rs256", steps: BACK, summary: "client assertion signed RS256 (FAPI2-SP-CR-02)" },
    Mutation { name: "assertion_missing", steps: BACK, summary: "client_id only, no client assertion (FAPI2-SP-AZ-04)" },
    Mutation { name: "assertion_exp_past", steps: BACK, summary: "assertion exp 5 minutes ago" },
    Mutation { name: "assertion_aud_other", steps: BACK, summary: "assertion aud for another server (FAPI2-SP-AS-08)" },
    Mutation { name: "assertion_aud_array", steps: BACK, summary: "assertion aud = [issuer] as an array (FAPI2-SP-AS-08)" },
    Mutation { name: "assertion_aud_par_url", steps: BACK, summary: "assertion aud = the PAR endpoint URL (FAPI2-SP-AS-08)" },
    Mutation { name: "assertion_aud_token_url", steps: BACK, summary: "assertion aud = the token endpoint URL (FAPI2-SP-AS-08)" },
    Mutation { name: "assertion_no_sub", steps: BACK, summary: "assertion without sub (PKJ-02)" },
    Mutation { name: "assertion_iss_other", steps: BACK, summary: "assertion iss = another client_id, sub = this client (PKJ-02)" },
    Mutation { name: "assertion_sub_other", steps: BACK, summary: "assertion sub = another client_id, iss = this client (PKJ-02)" },
    Mutation { name: "assertion_nbf_plus_8", steps: BACK, summary: "assertion iat and nbf 8 s ahead: must be accepted (FAPI2-SP-AS-14)" },
    Mutation { name: "assertion_iat_plus_61", steps: BACK, summary: "assertion iat, nbf and exp more than 60 s ahead (FAPI2-SP-AS-14)" },
    Mutation {
        name: "assertion_replay",
        steps: BACK,
        summary: "the client assertion the server already accepted earlier in this module, sent again (PKJ-04, a SHOULD)",
    },
    Mutation { name: "assertion_bad_signature", steps: BACK, summary: "assertion with valid claims and a corrupted signature (PKJ-03)" },
    Mutation {
        name: "no_client_auth",
        steps: BACK,
        summary: "no client authentication at all: client_id only, no assertion, no certificate for mTLS authentication (FAPI2-SP-AS-03)",
    },
    // sender constraint at the authorization server
    Mutation { name: "dpop_missing", steps: BACK, summary: "no DPoP header (FAPI2-SP-AS-04)" },
    Mutation {
        name: "dpop_other_key",
        steps: BACK,
        summary: "a DPoP proof signed by another key than the one the code is bound to (FAPI2-SP-AS-13)",
    },
    Mutation { name: "dpop_iat_minus_10", steps: DPOP_ANY, summary: "DPoP proof iat 10 s in the past: accepted" },
    Mutation { name: "dpop_iat_plus_8", steps: DPOP_ANY, summary: "DPoP proof iat 8 s ahead: accepted (FAPI2-SP-AS-14)" },
    Mutation {
        name: "dpop_nbf_exp",
        steps: DPOP_ANY,
        summary: "extra nbf = now and exp = now + 5 min in the DPoP proof: accepted (DP-14)",
    },
    Mutation {
        name: "no_sender_constraint",
        steps: &["token", "refresh", "call_resource"],
        summary: "no DPoP proof (DPoP) or no client certificate (mTLS) (FAPI2-SP-AS-04)",
    },
    Mutation {
        name: "swap_certificate",
        steps: &["token", "refresh", "userinfo", "call_resource"],
        summary: "client 2's certificate on the connection (MT-07)",
    },
    // DPoP proofs checked against their request (§3.10; DP-01…DP-14, DP-R-*)
    Mutation { name: "dpop_wrong_htm", steps: PROOF_AT_REQUEST, summary: "proof htm of another method: POST for a GET, PUT for a POST (DP-08)" },
    Mutation { name: "dpop_wrong_htu", steps: PROOF_AT_REQUEST, summary: "proof htu of another URL (DP-09)" },
    Mutation { name: "dpop_no_ath", steps: PROOF_WITH_TOKEN, summary: "proof without ath (DP-12)" },
    Mutation { name: "dpop_wrong_ath", steps: PROOF_WITH_TOKEN, summary: "proof ath of another token (DP-12)" },
    Mutation { name: "dpop_wrong_typ", steps: RESOURCE, summary: "proof typ JWT (DP-04)" },
    Mutation { name: "dpop_alg_none", steps: RESOURCE, summary: "proof with alg none and no signature (DP-05)" },
    Mutation { name: "dpop_private_jwk", steps: RESOURCE, summary: "proof jwk with the private key members (DP-07)" },
    Mutation { name: "dpop_bad_signature", steps: RESOURCE, summary: "proof with a corrupted signature (DP-06)" },
    Mutation { name: "dpop_iat_plus_3600", steps: RESOURCE, summary: "proof iat one hour ahead (DP-11)" },
    Mutation { name: "dpop_iat_minus_3600", steps: RESOURCE, summary: "proof iat one hour ago (DP-11)" },
    Mutation {
        name: "dpop_replay",
        steps: PROOF_AT_REQUEST,
        summary: "a proof used twice (DP-13, a SHOULD: a warning): call_resource sends its proof twice and judges the second \
                  call; par, token and userinfo resend the proof last accepted for the same method and URL in this module",
    },
    Mutation { name: "dpop_two_headers", steps: RESOURCE, summary: "two DPoP headers (DP-01)" },
    Mutation {
        name: "dpop_header_name_case",
        steps: RESOURCE,
        summary: "header name sent as `Dpop` (title case): must be accepted (DP-14)",
    },
    Mutation {
        name: "scheme_case",
        steps: RESOURCE,
        summary: "authorization scheme in inverted case (`dPoP`, `bEARER`): must be accepted (FAPI2-SP-RS-01)",
    },
    Mutation { name: "token_in_query", steps: RESOURCE, summary: "access token only in the URL query (FAPI2-SP-RS-02)" },
    Mutation {
        name: "ipv6_customer_ip",
        steps: RESOURCE,
        summary: "an IPv6 x-fapi-customer-ip-address header: must be accepted (FAPI implementation advice)",
    },
    Mutation {
        name: "fapi_headers",
        steps: RESOURCE,
        summary: "x-fapi-interaction-id (a UUID), x-fapi-auth-date (an HTTP-date) and an IPv4 x-fapi-customer-ip-address: \
                  accepted, the interaction id echoed (B-RS-11, B-RS-13)",
    },
    Mutation { name: "accept_json_utf8", steps: RESOURCE, summary: "Accept: application/json; charset=utf-8: must be accepted" },
    Mutation { name: "accept_any", steps: RESOURCE, summary: "Accept: */*: must be accepted" },
    Mutation { name: "bearer_scheme_for_dpop_token", steps: RESOURCE, summary: "a DPoP-bound token with the Bearer scheme (DP-R-02)" },
    Mutation {
        name: "other_client_token",
        steps: RESOURCE,
        summary: "client 2's access token with this client's key or certificate (FAPI2-SP-RS-05)",
    },
    // client registration metadata (RFC 7591; DCR-03, DCR-04, DCR-06, FDX-DCR-05)
    Mutation {
        name: "http_redirect_uri",
        steps: &["register", "update_registration"],
        summary: "redirect_uris [\"http://…\"]: refused with invalid_redirect_uri (DCR-03)",
    },
    Mutation { name: "jwks_and_jwks_uri", steps: REGISTER, summary: "both jwks and jwks_uri: invalid_client_metadata (DCR-03)" },
    Mutation {
        name: "no_redirect_uris",
        steps: REGISTER,
        summary: "no redirect_uris with the authorization_code grant: invalid_redirect_uri or invalid_client_metadata (DCR-04)",
    },
    Mutation {
        name: "client_secret_basic",
        steps: REGISTER,
        summary: "token_endpoint_auth_method client_secret_basic: invalid_client_metadata (DCR-04, FAPI2-SP-AS-06)",
    },
    Mutation {
        name: "auth_signing_alg_rs256",
        steps: REGISTER,
        summary: "token_endpoint_auth_signing_alg RS256: invalid_client_metadata (DCR-06, FAPI2-SP-CR-02)",
    },
    Mutation { name: "response_types_token", steps: REGISTER, summary: "response_types [\"token\"]: invalid_client_metadata (DCR-04, FAPI2-SP-AZ-01)" },
    Mutation {
        name: "grant_response_mismatch",
        steps: REGISTER,
        summary: "response_types [\"code\"] with grant_types [\"client_credentials\"]: invalid_client_metadata (DCR-04)",
    },
    Mutation { name: "private_key_in_jwks", steps: REGISTER, summary: "a jwks whose key has its private member \"d\": invalid_client_metadata (DCR-04)" },
    Mutation {
        name: "no_bound_tokens_flag",
        steps: REGISTER,
        summary: "neither dpop_bound_access_tokens nor tls_client_certificate_bound_access_tokens: invalid_client_metadata (FAPI2-SP-AS-04)",
    },
    Mutation {
        name: "admin_scope",
        steps: REGISTER,
        summary: "scope with dcr_manage and update_client_status, the administrator's scopes: invalid_client_metadata",
    },
    Mutation { name: "no_initial_access_token", steps: REGISTER, summary: "no initial access token: 401 invalid_token (DCR-01, FDX-DCR-01)" },
    Mutation { name: "wrong_initial_access_token", steps: REGISTER, summary: "an unknown initial access token: 401 invalid_token (DCR-01)" },
    Mutation { name: "fdx_bad_duration_type", steps: REGISTER, summary: "FDX duration_type [\"FOREVER\"]: invalid_client_metadata (FDX-DCR-05)" },
    Mutation { name: "fdx_zero_duration_period", steps: REGISTER, summary: "FDX duration_period 0: invalid_client_metadata (FDX-DCR-05)" },
    Mutation { name: "fdx_negative_lookback_period", steps: REGISTER, summary: "FDX lookback_period -1: invalid_client_metadata (FDX-DCR-05)" },
    Mutation {
        name: "fdx_client_status_in_body",
        steps: &["register", "update_registration"],
        summary: "fdx_client_status \"Approved\" in the client's own body: ignored (status unchanged) or invalid_client_metadata (FDX-DCR-04)",
    },
    // registration management (RFC 7592; DCM-02…DCM-06)
    Mutation { name: "wrong_registration_token", steps: MANAGE, summary: "an unknown registration access token: 401 (DCM-03)" },
    Mutation { name: "no_registration_token", steps: MANAGE, summary: "no Authorization header: 401 (DCM-03)" },
    Mutation {
        name: "other_client_registration_token",
        steps: MANAGE,
        summary: "client 2's registration access token at client 1's configuration endpoint: 401 or 403 (DCM-03)",
    },
    Mutation {
        name: "previous_registration_token",
        steps: MANAGE,
        summary: "the registration access token before the server rotated it: 401 (DCM-06); not checked (info) when it did not rotate",
    },
    Mutation {
        name: "dcr_manage_token",
        steps: MANAGE,
        summary: "the admin client's dcr_manage token instead of the registration access token: accepted when the target supports it",
    },
    Mutation {
        name: "token_without_dcr_manage",
        steps: MANAGE,
        summary: "an admin token with update_client_status but not dcr_manage: 403 insufficient_scope (DCM-03)",
    },
    Mutation {
        name: "other_workspace",
        steps: &["read_registration"],
        summary: "the dcr_manage token at another tenant's registration endpoint for this client: refused (DCM-03)",
    },
    Mutation { name: "mismatched_client_id", steps: UPDATE, summary: "a body whose client_id is not the endpoint's client: 400 invalid_client_metadata (DCM-04)" },
    // FDX status endpoint (FDX-UPD-01…04, FDX-ST-06)
    Mutation { name: "no_token", steps: STATUS, summary: "no access token: 401 invalid_token (FDX-UPD-02)" },
    Mutation {
        name: "token_without_status_scope",
        steps: STATUS,
        summary: "an admin token with dcr_manage but not update_client_status: 403 insufficient_scope (FDX-UPD-02)",
    },
    Mutation {
        name: "registration_token",
        steps: STATUS,
        summary: "the client's own registration access token: 401 or 403 (FDX-UPD-02)",
    },
    Mutation { name: "unknown_client", steps: STATUS, summary: "a client_id the server never issued: 404 (FDX-UPD-04)" },
    Mutation { name: "unknown_status", steps: STATUS, summary: "status \"Suspended\": 400 (or 422) (FDX-UPD-04, FDX-ST-06)" },
    Mutation { name: "lowercase_status", steps: STATUS, summary: "status \"approved\" (values are case-sensitive): 400 (or 422) (FDX-ST-06)" },
    Mutation { name: "missing_status", steps: STATUS, summary: "a body without a status: 400 (or 422) (FDX-UPD-04)" },
    Mutation { name: "new_status_key", steps: STATUS, summary: "the status under new_status, the vendor alias: accepted (FDX-UPD-01)" },
    // CIBA authentication requests (CIBA-01, CIBA-02, FCIBA-03, FCIBA-08)
    Mutation { name: "bc_unsigned", steps: BC, summary: "the parameters as plain form parameters, no signed `request` (FCIBA-08, CIBA-02)" },
    Mutation { name: "bc_two_hints", steps: BC, summary: "login_hint and id_token_hint together (CIBA-01: exactly one hint)" },
    Mutation { name: "bc_scope_without_openid", steps: BC, summary: "scope without openid (CIBA-01)" },
    Mutation { name: "bc_no_binding_message", steps: BC, summary: "no binding_message (FCIBA-03)" },
    Mutation { name: "bc_no_aud", steps: BC, summary: "request JWT without aud (CIBA-02)" },
    Mutation { name: "bc_aud_other", steps: BC, summary: "request JWT aud = another server (CIBA-02)" },
    Mutation { name: "bc_iss_other_client", steps: BC, summary: "request JWT iss = the other client, signed by this one (CIBA-02)" },
    Mutation { name: "bc_no_iat", steps: BC, summary: "request JWT without iat (CIBA-02)" },
    Mutation { name: "bc_no_jti", steps: BC, summary: "request JWT without jti (CIBA-02)" },
    Mutation { name: "bc_no_nbf", steps: BC, summary: "request JWT without nbf (CIBA-02)" },
    Mutation { name: "bc_no_exp", steps: BC, summary: "request JWT without exp (CIBA-02)" },
    Mutation { name: "bc_exp_70_minutes_ahead", steps: BC, summary: "request JWT exp 70 minutes ahead (CIBA-02, FAPI2-MS lifetime)" },
    Mutation { name: "bc_nbf_70_minutes_ago", steps: BC, summary: "request JWT nbf (and iat) 70 minutes ago (CIBA-02)" },
    Mutation { name: "bc_alg_none", steps: BC, summary: "an unsecured request JWT, alg none (CIBA-02, FCIBA-09)" },
    Mutation { name: "bc_signed_by_other_client", steps: BC, summary: "request JWT signed with the other client's key (CIBA-02)" },
    Mutation { name: "bc_bad_signature", steps: BC, summary: "request JWT with a corrupted signature (CIBA-02)" },
    // passkeys (WebAuthn): each makes the ceremony invalid; the step expects a refusal
    Mutation {
        name: "passkey_uv_discouraged",
        steps: PASSKEY_BOTH,
        summary: "the options' userVerification downgraded to discouraged, so the authenticator leaves UV unset (REG-09, AUTH-06)",
    },
    Mutation {
        name: "passkey_other_origin_port",
        steps: PASSKEY_BOTH,
        summary: "clientDataJSON with the origin on another port (REG-04, AUTH-04)",
    },
    Mutation {
        name: "passkey_registration_replay",
        steps: PASSKEY_REGISTER,
        summary: "fresh creation options, then the registration response the server already accepted (REG-03; after passkey_remove, only its used challenge can refuse it)",
    },
    Mutation {
        name: "passkey_duplicate_credential_id",
        steps: PASSKEY_REGISTER,
        summary: "registrations built by hand (none attestation, ES256): one with a fresh credential id (accepted), then one with a new key and that same id (REG-15)",
    },
    Mutation {
        name: "passkey_replay",
        steps: PASSKEY_LOGIN,
        summary: "a valid sign-in, then fresh options and the same assertion posted again to the same interaction without the session (AUTH-04, AUTH-11)",
    },
    Mutation {
        name: "passkey_other_interaction",
        steps: PASSKEY_LOGIN,
        summary: "the assertion made for the other client's authorization's challenge, posted to this one (INT-PK-03)",
    },
    Mutation {
        name: "passkey_tampered_authenticator_data",
        steps: PASSKEY_LOGIN,
        summary: "a sign counter byte of authenticatorData changed after signing (AUTH-08)",
    },
    Mutation { name: "passkey_tampered_signature", steps: PASSKEY_LOGIN, summary: "a byte of the assertion signature changed (AUTH-08)" },
    Mutation {
        name: "passkey_unknown_user_handle",
        steps: PASSKEY_LOGIN,
        summary: "a userHandle of random bytes that names nobody; the signature stays valid (AUTH-02)",
    },
    Mutation { name: "passkey_no_user_handle", steps: PASSKEY_LOGIN, summary: "no userHandle in a usernameless sign-in (AUTH-02)" },
];

/// Mutations that change only a signed request object (or, `no_request_object`, its
/// absence): a plan loads them only with `request_method = "signed"`.
pub const SIGNED_ONLY: &[&str] = &[
    "no_request_object",
    "request_object_no_aud",
    "request_object_aud_other",
    "request_object_aud_array",
    "request_object_aud_par_url",
    "request_object_no_nbf",
    "request_object_nbf_70_minutes_ago",
    "request_object_nbf_plus_8",
    "request_object_no_exp",
    "request_object_expired",
    "request_object_exp_over_60_minutes",
    "request_object_alg_none",
    "request_object_bad_signature",
    "request_object_other_key",
    "request_object_rs256",
    "request_object_client_id_other",
    "request_object_iss_other",
    "request_object_no_typ",
    "request_object_with_request_uri",
    "params_outside_request_object",
];

/// Mutations of the JARM `response_mode`: a plan loads them only with `response_mode = "jarm"`.
pub const JARM_ONLY: &[&str] = &["response_mode_query_jwt", "response_mode_fragment_jwt", "response_mode_form_post_jwt", "drop_response_mode"];

/// Mutations that set a `response_mode` where the plan asks for one of its own (JARM) or for
/// a response that must never use the query (`code id_token`, A-AS-22).
pub const JARM_OR_HYBRID: &[&str] = &["response_mode_query"];

/// The mutation called `name`.
pub fn find(name: &str) -> Option<&'static Mutation> {
    ALL.iter().find(|m| m.name == name)
}

/// The mutations `step` accepts.
pub fn for_step(step: &str) -> Vec<&'static str> {
    ALL.iter().filter(|m| m.steps.contains(&step)).map(|m| m.name).collect()
}

/// Checks that `name` exists and applies to `step`; the error says what would.
pub fn validate(step: &str, name: &str) -> Result<(), String> {
    match find(name) {
        None => Err(format!("unknown mutation {name:?}")),
        Some(m) if !m.steps.contains(&step) => {
            Err(format!("mutation {name:?} does not apply to step {step:?} (it applies to {})", m.steps.join(", ")))
        }
        Some(_) => Ok(()),
    }
}

/// The mutations a step runs with.
#[derive(Debug, Clone, Default)]
pub struct Mutations(pub Vec<String>);

impl Mutations {
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|m| m == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn label(&self) -> String {
        if self.0.is_empty() { "none".into() } else { self.0.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_unique_and_validated() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate mutation names");
        assert!(validate("par", "pkce_plain").is_ok());
        assert!(validate("token", "pkce_plain").unwrap_err().contains("applies to par"));
        assert!(validate("par", "pkce_sha1").unwrap_err().contains("unknown mutation"));
        assert!(for_step("call_resource").contains(&"dpop_replay"));
        for step in ["par", "token", "userinfo"] {
            assert!(validate(step, "dpop_replay").is_ok() && validate(step, "dpop_wrong_htu").is_ok(), "{step}");
        }
        assert!(validate("par", "dpop_no_ath").unwrap_err().contains("applies to userinfo, call_resource"));
        assert!(validate("refresh", "use_client_2").is_ok() && validate("userinfo", "swap_certificate").is_ok());
        assert!(validate("token", "token_redirect_uri_mismatch").is_ok() && validate("par", "assertion_replay").is_ok());
        for name in SIGNED_ONLY.iter().chain(JARM_ONLY).chain(JARM_OR_HYBRID) {
            assert!(validate("par", name).is_ok(), "{name}");
        }
    }
}
