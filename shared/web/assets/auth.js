// auth.js — sign-in with OIDC authorization code + PKCE (S256) as a public
// client. Tokens live in sessionStorage (this tab only; never localStorage,
// never a cookie). What the user typed is kept as drafts in sessionStorage
// too, so an expired session sends them through sign-in and back without
// losing it.

const SESSION = 'jitsudo.session.';
const PENDING = 'jitsudo.signin';
const DRAFTS = 'jitsudo.drafts';

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function random(n = 32) { return b64url(crypto.getRandomValues(new Uint8Array(n))); }

/** The claims of a JWT (not verified here: the API verifies the token). */
export function claims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch { return {}; }
}

/** The signed-in session of tenant, or null when none or expired. */
export function session(tenant) {
  let s;
  try { s = JSON.parse(sessionStorage.getItem(SESSION + tenant) || 'null'); } catch { s = null; }
  if (!s || !s.token) return null;
  if (s.expires_at && Date.now() > s.expires_at - 10_000) return null;
  return s;
}

export function signOut(tenant) { sessionStorage.removeItem(SESSION + tenant); }

export function redirectURI() { return location.origin + '/ui/callback'; }

async function discover(tenant) {
  const cfgResp = await fetch('/v1/tenants/' + encodeURIComponent(tenant) + '/sign-in', { headers: { Accept: 'application/json' } });
  if (cfgResp.status === 404) throw new Error('There is no organisation named “' + tenant + '”.');
  if (!cfgResp.ok) throw new Error('Sign-in is not available right now (' + cfgResp.status + ').');
  const cfg = await cfgResp.json();
  const issuer = String(cfg.issuer).replace(/\/$/, '');
  const d = await fetch(issuer + '/.well-known/openid-configuration');
  if (!d.ok) throw new Error('The identity provider did not answer (' + d.status + ').');
  const meta = await d.json();
  return { cfg, meta };
}

/** Start sign-in for tenant; comes back to returnTo (a /ui/ path). */
export async function signIn(tenant, returnTo) {
  const { cfg, meta } = await discover(tenant);
  const verifier = random(48), state = random(), nonce = random();
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({
    tenant, verifier, state, nonce, returnTo, client_id: cfg.client_id, token_endpoint: meta.token_endpoint, issuer: meta.issuer,
  }));
  const u = new URL(meta.authorization_endpoint);
  const scopes = Array.isArray(cfg.scopes) && cfg.scopes.length ? cfg.scopes : ['openid'];
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: cfg.client_id, redirect_uri: redirectURI(), scope: scopes.join(' '),
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
  })) u.searchParams.set(k, v);
  location.assign(u.toString());
}

/** Finish sign-in on /ui/callback: returns the path to go back to. */
export async function completeSignIn(params) {
  let p;
  try { p = JSON.parse(sessionStorage.getItem(PENDING) || 'null'); } catch { p = null; }
  sessionStorage.removeItem(PENDING);
  if (params.get('error')) throw new Error('Sign-in was refused: ' + (params.get('error_description') || params.get('error')));
  if (!p || !params.get('state') || params.get('state') !== p.state) throw new Error('This sign-in answer does not belong to this tab. Please sign in again.');
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code: params.get('code') || '', redirect_uri: redirectURI(),
    client_id: p.client_id, code_verifier: p.verifier,
  });
  const r = await fetch(p.token_endpoint, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  if (!r.ok) throw new Error('The identity provider refused the sign-in code (' + r.status + ').');
  const tok = await r.json();
  if (tok.id_token) {
    const idc = claims(tok.id_token);
    if (idc.nonce !== p.nonce) throw new Error('The sign-in answer failed its replay check. Please sign in again.');
  }
  const token = tok.access_token;
  if (!token) throw new Error('The identity provider gave no access token.');
  const c = claims(token);
  const expiresAt = c.exp ? c.exp * 1000 : Date.now() + (Number(tok.expires_in) || 3600) * 1000;
  setSession(p.tenant, token, expiresAt);
  return p.returnTo && p.returnTo.startsWith('/ui/') ? p.returnTo : '/ui/t/' + encodeURIComponent(p.tenant) + '/inbox';
}

export function setSession(tenant, token, expiresAt) {
  const c = claims(token);
  sessionStorage.setItem(SESSION + tenant, JSON.stringify({
    token, expires_at: expiresAt, sub: c.sub || '', iss: c.iss || '', email: c.email_verified === true ? (c.email || '') : '',
    groups: Array.isArray(c.groups) ? c.groups : [],
  }));
}

// ---------------------------------------------------------------- drafts

function allDrafts() {
  try { return JSON.parse(sessionStorage.getItem(DRAFTS) || '{}'); } catch { return {}; }
}
export function draft(key) { return allDrafts()[key]; }
export function saveDraft(key, value) {
  const d = allDrafts();
  if (value === '' || value === undefined || value === null) delete d[key]; else d[key] = value;
  sessionStorage.setItem(DRAFTS, JSON.stringify(d));
}
export function clearDrafts(prefix) {
  const d = allDrafts();
  for (const k of Object.keys(d)) if (k.startsWith(prefix)) delete d[k];
  sessionStorage.setItem(DRAFTS, JSON.stringify(d));
}
/** Keep input's value as draft key: restored now, saved on every change. */
export function keep(input, key) {
  const v = draft(key);
  if (v !== undefined) {
    if (input.type === 'checkbox') input.checked = !!v; else input.value = v;
  }
  const save = () => saveDraft(key, input.type === 'checkbox' ? (input.checked || '') : input.value);
  input.addEventListener('input', save);
  input.addEventListener('change', save);
  return input;
}
