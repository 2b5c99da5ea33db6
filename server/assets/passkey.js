// Passkey ceremonies of the login page (sign-in) and the account page (registration): the
// only script these pages load, and only WebAuthn needs it — every other form works without
// JavaScript. A form with `data-options` asks the server for WebAuthn options (POST, the form's
// hidden fields), hands them to the browser's authenticator, and posts the credential back as
// JSON in its `credential` field. Binary members travel as base64url, as webauthn-rs reads them.
'use strict';
(() => {
  const base64url = {
    decode(text) {
      const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(base64 + '==='.slice((base64.length + 3) % 4));
      return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      let binary = '';
      for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
      return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: base64url.decode(c.id) }));

  async function options(form) {
    const body = new URLSearchParams();
    for (const name of ['interaction_id', 'csrf_token']) {
      const field = form.elements.namedItem(name);
      if (field) body.set(name, field.value);
    }
    const response = await fetch(form.dataset.options, { method: 'POST', body, credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the server did not start the ceremony (HTTP ${response.status})`);
    return (await response.json()).publicKey;
  }

  async function signIn(form) {
    const publicKey = await options(form);
    publicKey.challenge = base64url.decode(publicKey.challenge);
    publicKey.allowCredentials = withIds(publicKey.allowCredentials);
    const credential = await navigator.credentials.get({ publicKey });
    const r = credential.response;
    return {
      id: credential.id,
      rawId: base64url.encode(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        authenticatorData: base64url.encode(r.authenticatorData),
        clientDataJSON: base64url.encode(r.clientDataJSON),
        signature: base64url.encode(r.signature),
        userHandle: r.userHandle ? base64url.encode(r.userHandle) : null,
      },
    };
  }

  async function register(form) {
    const publicKey = await options(form);
    publicKey.challenge = base64url.decode(publicKey.challenge);
    publicKey.user.id = base64url.decode(publicKey.user.id);
    publicKey.excludeCredentials = withIds(publicKey.excludeCredentials);
    const credential = await navigator.credentials.create({ publicKey });
    const r = credential.response;
    return {
      id: credential.id,
      rawId: base64url.encode(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        attestationObject: base64url.encode(r.attestationObject),
        clientDataJSON: base64url.encode(r.clientDataJSON),
      },
    };
  }

  for (const [id, ceremony] of [['passkey-login', signIn], ['passkey-register', register]]) {
    const form = document.getElementById(id);
    if (!form) continue;
    const status = form.querySelector('[data-passkey-status]');
    const say = (text) => { if (status) status.textContent = text; };
    if (!window.PublicKeyCredential) {
      say('This browser cannot use passkeys.');
      continue;
    }
    // A page restored from the back/forward cache must not post an old response again.
    window.addEventListener('pageshow', () => { form.elements.namedItem('credential').value = ''; });
    form.addEventListener('submit', async (event) => {
      const field = form.elements.namedItem('credential');
      if (field.value) return;
      event.preventDefault();
      try {
        field.value = JSON.stringify(await ceremony(form));
        form.submit();
      } catch (e) {
        say(`No passkey was used: ${e.message}`);
      }
    });
  }
})();
