#!/usr/bin/env node
// Interoperability check: the independent, OpenID-certified client library `openid-client`
// (npm, v6) runs one FAPI 2.0 authorization against a fapilab workspace:
//
//   discovery -> PAR (PKCE S256, private_key_jwt, DPoP) -> login + consent pages (driven with
//   plain fetch and a tiny cookie jar) -> authorization code grant (iss, state, nonce, PKCE,
//   DPoP) -> userinfo (DPoP)
//
// With "message_signing": true (FAPI 2.0 Message Signing) the parameters travel in a signed
// request object (JAR) pushed to PAR, and the authorization response is a JARM JWT
// (response_mode=jwt) that openid-client verifies before the code is used.
//
// With "fapi1_advanced": true (FAPI 1.0 Advanced) the same JAR + PAR + JARM flow runs with
// mTLS instead of DPoP: every back-channel call goes to the server's mtls_endpoint_aliases
// with the client's transport certificate ("transport_cert_file", "transport_key_file"), and
// the access token must come back bound to that certificate (A-AS-06).
//
// Usage: node fapi2-client.mjs <config.json>
//
// config.json:
//   {
//     "issuer":            "https://localhost:8443/default/fapi2",
//     "client_id":         "pkjwt-dpop-1",
//     "private_jwks_file": "/path/to/tpp/pkjwt-dpop-1/private.jwks.json",
//     "ca_file":           "/path/to/ca.pem",
//     "username":          "alice",
//     "password":          "...",
//     "redirect_uri":      "https://client.fapilab.test/callback",
//     "scope":             "openid accounts",
//     "message_signing":   false,
//     "fapi1_advanced":    false
//   }
//
// The CA is trusted through NODE_EXTRA_CA_CERTS, which Node reads only at start-up: when it is
// not already set to `ca_file`, the script runs itself again with it set.
//
// Exit status 0 and a JSON summary on stdout when the whole flow succeeds; otherwise a message
// on stderr and exit status 1. Nothing in here works around the server: a failure is reported
// as what was sent and what came back.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';

const REQUIRED_KEYS = [
  'issuer',
  'client_id',
  'private_jwks_file',
  'ca_file',
  'username',
  'password',
  'redirect_uri',
  'scope',
];

class FlowError extends Error {}

function fail(message) {
  throw new FlowError(message);
}

function loadConfig(path) {
  if (!path) fail('usage: node fapi2-client.mjs <config.json>');
  let config;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read config ${path}: ${e.message}`);
  }
  for (const key of REQUIRED_KEYS) {
    if (typeof config[key] !== 'string' || config[key] === '') {
      fail(`config ${path}: "${key}" must be a non-empty string`);
    }
  }
  return config;
}

/// Re-runs this script with NODE_EXTRA_CA_CERTS = ca_file unless that is already the case.
/// Returns the child's exit status, or null when no re-run was needed.
function reexecWithCa(config) {
  if (process.env.NODE_EXTRA_CA_CERTS === config.ca_file) return null;
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: config.ca_file },
  });
  if (child.error) fail(`cannot re-run node with NODE_EXTRA_CA_CERTS: ${child.error.message}`);
  return child.status ?? 1;
}

/// The client's ES256 signing key from its private JWKS, as a non-extractable CryptoKey.
async function loadSigningKey(path) {
  let jwks;
  try {
    jwks = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read the private JWKS ${path}: ${e.message}`);
  }
  const jwk = (jwks.keys ?? []).find((k) => k.alg === 'ES256' && k.kty === 'EC' && k.d);
  if (!jwk) fail(`${path} has no private EC key with "alg": "ES256"`);
  // Only the members WebCrypto needs: `use`/`key_ops`/`alg` would be checked against the usage.
  const { kty, crv, x, y, d } = jwk;
  const key = await crypto.subtle.importKey(
    'jwk',
    { kty, crv, x, y, d },
    { name: 'ECDSA', namedCurve: crv },
    false,
    ['sign'],
  );
  return { key, kid: jwk.kid };
}

// ---------------------------------------------------------------------------------------------
// The "browser": fetch without following redirects, plus a cookie jar that honours Path.

class CookieJar {
  #cookies = new Map(); // `${host} ${path} ${name}` -> { host, path, name, value }

  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, '/') || '/';
      let expired = false;
      for (const attribute of attributes) {
        const [k, v = ''] = attribute.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path' && v.trim().startsWith('/')) path = v.trim();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${url.host} ${path} ${name}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { host: url.host, path, name, value });
    }
  }

  header(url) {
    const matches = (path) =>
      url.pathname === path ||
      (url.pathname.startsWith(path) && (path.endsWith('/') || url.pathname[path.length] === '/'));
    return [...this.#cookies.values()]
      .filter((c) => c.host === url.host && matches(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  names() {
    return [...this.#cookies.values()].map((c) => `${c.name} (Path=${c.path})`);
  }
}

async function browse(jar, method, url, form) {
  url = new URL(url);
  const headers = new Headers({ accept: 'text/html' });
  const cookie = jar.header(url);
  if (cookie) headers.set('cookie', cookie);
  let body;
  if (form) {
    body = new URLSearchParams(form);
    headers.set('content-type', 'application/x-www-form-urlencoded');
  }
  const response = await fetch(url, { method, headers, body, redirect: 'manual' });
  jar.store(url, response);
  const text = await response.text();
  return { url, status: response.status, location: response.headers.get('location'), text };
}

function unescapeHtml(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`));
  return m ? unescapeHtml(m[1]) : undefined;
}

/// The page's (single) POST form: its absolute action URL and hidden inputs.
function parseForm(page, what) {
  const formTag = page.text.match(/<form\b[^>]*>/i)?.[0];
  if (!formTag) fail(`${what}: no <form> in the page (HTTP ${page.status}):\n${excerpt(page.text)}`);
  const action = attribute(formTag, 'action');
  if (!action) fail(`${what}: the form has no action`);
  const hidden = {};
  for (const input of page.text.match(/<input\b[^>]*>/gi) ?? []) {
    if (attribute(input, 'type') === 'hidden') hidden[attribute(input, 'name')] = attribute(input, 'value') ?? '';
  }
  return { action: new URL(action, page.url), hidden };
}

function fieldNames(page) {
  return (page.text.match(/<(?:input|button)\b[^>]*>/gi) ?? []).map((t) => attribute(t, 'name')).filter(Boolean);
}

function excerpt(text) {
  const plain = text.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > 600 ? `${plain.slice(0, 600)}…` : plain;
}

function expectStatus(page, status, what) {
  if (page.status !== status) {
    fail(
      `${what}: ${page.url.origin}${page.url.pathname} answered HTTP ${page.status}` +
        `${page.location ? ` (Location: ${page.location})` : ''}, expected ${status}:\n${excerpt(page.text)}`,
    );
  }
}

function expectFields(page, names, what) {
  const present = new Set(fieldNames(page));
  const missing = names.filter((n) => !present.has(n));
  if (missing.length) fail(`${what}: the page lacks the form field(s) ${missing.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------

/// openid-client errors carry the server's answer in `cause` / `error` / `status`; show it all.
function describeError(e) {
  const lines = [`${e.name}: ${e.message}`];
  if (e.code) lines.push(`  code: ${e.code}`);
  if (e.error) lines.push(`  error: ${e.error}`);
  if (e.error_description) lines.push(`  error_description: ${e.error_description}`);
  if (e.status) lines.push(`  HTTP status: ${e.status}`);
  if (e.response instanceof Response) {
    lines.push(`  HTTP status: ${e.response.status}`);
    const wwwAuthenticate = e.response.headers.get('www-authenticate');
    if (wwwAuthenticate) lines.push(`  WWW-Authenticate: ${wwwAuthenticate}`);
  }
  if (e.cause !== undefined) {
    let cause;
    try {
      cause = e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : JSON.stringify(e.cause);
    } catch {
      cause = String(e.cause);
    }
    lines.push(`  cause: ${cause}`);
  }
  return lines.join('\n');
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof FlowError) throw e;
    throw new FlowError(`${name} failed:\n${describeError(e)}`);
  }
}

function openidClientVersion() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('openid-client/package.json'), 'utf8')).version;
}

/// FAPI 1.0 Advanced: a fetch that presents the client's transport certificate, for the
/// back-channel calls openid-client sends to the mTLS endpoint aliases (RFC 8705 §5).
function mtlsFetch(config) {
  for (const key of ['transport_cert_file', 'transport_key_file']) {
    if (typeof config[key] !== 'string' || config[key] === '') fail(`config: "${key}" is required with fapi1_advanced`);
  }
  const agent = new Agent({
    connect: {
      ca: readFileSync(config.ca_file),
      cert: readFileSync(config.transport_cert_file),
      key: readFileSync(config.transport_key_file),
    },
  });
  return (url, options) => undiciFetch(url, { ...options, dispatcher: agent });
}

/// The claims of a JWT, unverified (the access token is opaque to the client; this only
/// reports its `cnf` so the test can compare it with the certificate).
function jwtClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

async function run(config) {
  const signing = await loadSigningKey(config.private_jwks_file);
  const fapi1 = config.fapi1_advanced === true;

  // private_key_jwt: FAPI 2.0 (Final) requires the assertion `aud` to be the issuer identifier
  // as a single string. openid-client's default is exactly that; the hook only observes (and
  // refuses to send anything else, so a change of default is caught here, not on the server).
  const assertions = [];
  const clientAuth = client.PrivateKeyJwt(signing, {
    [client.modifyAssertion](header, payload) {
      if (payload.aud !== config.issuer) {
        throw new FlowError(`openid-client would send client_assertion aud ${JSON.stringify(payload.aud)}, not the issuer`);
      }
      assertions.push({ alg: header.alg, kid: header.kid, aud: payload.aud });
    },
  });

  // FAPI 1.0 Advanced with `code`: JAR and JARM, like Message Signing (A-AS-01, A-AS-02).
  const messageSigning = config.message_signing === true || fapi1;
  const clientMetadata = { redirect_uris: [config.redirect_uri], response_types: ['code'] };
  if (fapi1) {
    clientMetadata.use_mtls_endpoint_aliases = true;
    clientMetadata.tls_client_certificate_bound_access_tokens = true;
  }
  const configuration = await step('discovery', () =>
    client.discovery(
      new URL(config.issuer),
      config.client_id,
      clientMetadata,
      clientAuth,
      messageSigning ? { execute: [client.useJwtResponseMode] } : undefined,
    ),
  );
  if (fapi1) configuration[client.customFetch] = mtlsFetch(config);
  const metadata = configuration.serverMetadata();
  if (metadata.issuer !== config.issuer) fail(`discovery: issuer ${metadata.issuer} is not ${config.issuer}`);
  if (!metadata.pushed_authorization_request_endpoint) fail('discovery: no pushed_authorization_request_endpoint');

  // Sender constraint: DPoP under FAPI 2.0, the client certificate under FAPI 1.0 Advanced.
  const dpop = fapi1 ? undefined : client.getDPoPHandle(configuration, await client.randomDPoPKeyPair('ES256'));

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();

  const parameters = {
    redirect_uri: config.redirect_uri,
    scope: config.scope,
    response_type: 'code',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(messageSigning ? { response_mode: 'jwt' } : {}),
  };
  // Message Signing: the parameters go into a request object signed with the client's key.
  const pushed = messageSigning
    ? await step('request object', async () => (await client.buildAuthorizationUrlWithJAR(configuration, parameters, signing)).searchParams)
    : parameters;
  if (messageSigning && [...pushed.keys()].sort().join(',') !== 'client_id,request') {
    fail(`openid-client's JAR parameters are ${[...pushed.keys()].join(', ')}; expected client_id and request`);
  }

  // PAR: private_key_jwt + DPoP header; the authorization URL carries client_id + request_uri.
  const authorizationUrl = await step('pushed authorization request', () =>
    client.buildAuthorizationUrlWithPAR(configuration, pushed, { DPoP: dpop }),
  );
  const frontChannel = [...authorizationUrl.searchParams.keys()].sort();
  if (frontChannel.join(',') !== 'client_id,request_uri') {
    fail(`the authorization URL carries ${frontChannel.join(', ')}; expected only client_id and request_uri`);
  }

  // The user agent: authorization endpoint -> login -> consent -> redirect to the client.
  const jar = new CookieJar();
  const loginPage = await step('authorization endpoint', () => browse(jar, 'GET', authorizationUrl));
  expectStatus(loginPage, 200, 'authorization endpoint (login page)');
  expectFields(loginPage, ['interaction_id', 'csrf_token', 'username', 'password'], 'login page');
  const loginForm = parseForm(loginPage, 'login page');
  const loggedIn = await step('login', () =>
    browse(jar, 'POST', loginForm.action, {
      interaction_id: loginForm.hidden.interaction_id,
      csrf_token: loginForm.hidden.csrf_token,
      username: config.username,
      password: config.password,
    }),
  );
  expectStatus(loggedIn, 303, `login (cookies sent: ${jar.names().join(', ')})`);
  if (!loggedIn.location) fail('login: 303 without a Location header');

  const consentPage = await step('consent page', () => browse(jar, 'GET', new URL(loggedIn.location, loggedIn.url)));
  expectStatus(consentPage, 200, 'consent page');
  expectFields(consentPage, ['interaction_id', 'csrf_token', 'decision'], 'consent page');
  const consentForm = parseForm(consentPage, 'consent page');
  const decided = await step('consent', () =>
    browse(jar, 'POST', consentForm.action, {
      interaction_id: consentForm.hidden.interaction_id,
      csrf_token: consentForm.hidden.csrf_token,
      decision: 'approve',
    }),
  );
  expectStatus(decided, 303, 'consent decision');
  if (!decided.location) fail('consent: 303 without a Location header');
  const callback = new URL(decided.location, decided.url);
  if (messageSigning && [...callback.searchParams.keys()].join(',') !== 'response') {
    fail(`the JARM callback carries ${[...callback.searchParams.keys()].join(', ')}; expected only response`);
  }
  if (`${callback.origin}${callback.pathname}` !== config.redirect_uri) {
    fail(`consent redirected to ${callback.origin}${callback.pathname}, not the redirect_uri ${config.redirect_uri}`);
  }

  // Token request: openid-client validates iss (RFC 9207), state, then sends the code with the
  // PKCE verifier, a fresh client assertion and a DPoP proof; then validates the ID Token.
  const tokens = await step('authorization code grant', () =>
    client.authorizationCodeGrant(
      configuration,
      callback,
      { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
      undefined,
      { DPoP: dpop },
    ),
  );
  const expectedType = fapi1 ? 'bearer' : 'dpop';
  if (String(tokens.token_type).toLowerCase() !== expectedType) fail(`token_type is ${tokens.token_type}, expected ${expectedType}`);
  const idClaims = tokens.claims();
  if (!idClaims?.sub) fail('the token response has no ID Token with a sub');

  const userinfo = await step('userinfo', () =>
    client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub, { DPoP: dpop }),
  );

  return {
    ok: true,
    openid_client: openidClientVersion(),
    issuer: metadata.issuer,
    client_id: config.client_id,
    client_assertions: assertions,
    authorization_response: messageSigning
      ? { jarm: true, state_matched: true }
      : { iss: callback.searchParams.get('iss'), state_matched: true },
    token: {
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_in: tokens.expires_in,
      has_refresh_token: Boolean(tokens.refresh_token),
      cnf: jwtClaims(tokens.access_token)?.cnf ?? null,
    },
    id_token: { iss: idClaims.iss, sub: idClaims.sub, aud: idClaims.aud, acr: idClaims.acr },
    userinfo,
  };
}

async function main() {
  const config = loadConfig(process.argv[2]);
  const status = reexecWithCa(config);
  if (status !== null) process.exit(status);
  const summary = await run(config);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`fapi2-client: ${e instanceof FlowError ? e.message : describeError(e)}\n`);
  process.exit(1);
});
