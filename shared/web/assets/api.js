// api.js — the /v1 client. Every call carries Authorization and X-Tenant-ID
// like any other client; errors become sentences for people.
// Paths and methods used here are checked against the OpenAPI document
// (shared/openapi) by a Go test.
import { session } from './auth.js';

export class SessionExpired extends Error {}

export class ApiError extends Error {
  constructor(status, body) {
    super(words(status, body));
    this.status = status;
    this.code = body && body.code;
    this.details = (body && body.details) || {};
  }
}

/** An API error in words a person can act on. */
export function words(status, body) {
  const code = body && body.code, msg = (body && body.message) || '';
  switch (code) {
    case 'self_approval': return 'You cannot review your own request: someone else has to approve or deny it.';
    case 'already_reviewed': return 'You have already reviewed this request.';
    case 'not_found': return 'Not found: it does not exist, or it is not visible to you.';
    case 'duplicate_request': return 'You already have a pending request or live grant for this target. ' + msg;
    case 'policy_denied': return 'Policy denies this: ' + ((body.details && body.details.reason) || msg);
    case 'duration_limit': return 'That is longer than this organisation allows. ' + msg;
    case 'tenant_mismatch': return 'You are signed in to another organisation.';
  }
  if (status === 409) {
    const st = body && body.details && body.details.status;
    if (st === 'expired') return 'Too late: the approval deadline passed and the request expired.';
    if (st) return 'Someone got there first: ' + msg.replace(/^./, (c) => c.toLowerCase()) + '.';
    return 'That conflicts with the current state: ' + msg;
  }
  if (status === 403) return 'You are not allowed to do that. ' + msg;
  if (status === 400 && body && body.details && Array.isArray(body.details.fields)) {
    return 'Please check: ' + body.details.fields.map((f) => f.field + ' ' + f.message).join('; ');
  }
  return msg || 'The request failed (' + status + ').';
}

export function client(tenant) {
  async function call(method, path, body, extraHeaders) {
    const s = session(tenant);
    if (!s) throw new SessionExpired();
    const headers = { Authorization: 'Bearer ' + s.token, 'X-Tenant-ID': tenant, Accept: 'application/json', ...(extraHeaders || {}) };
    let payload;
    if (body !== undefined) {
      if (typeof body === 'string') { payload = body; headers['Content-Type'] = headers['Content-Type'] || 'text/plain'; }
      else { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
    }
    const r = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
    if (r.status === 401) throw new SessionExpired();
    const text = await r.text();
    let data = null;
    if (text && (r.headers.get('Content-Type') || '').includes('json')) {
      try { data = JSON.parse(text); } catch { data = null; }
    } else if (text) data = text;
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }
  const q = (params) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '' && v !== null) u.set(k, v);
    const s = u.toString();
    return s ? '?' + s : '';
  };
  const id = encodeURIComponent;
  return {
    reviewable: (p) => call('GET', '/v1/requests' + q({ reviewable: 'true', ...p })),
    listRequests: (p) => call('GET', '/v1/requests' + q(p)),
    getRequest: (rid) => call('GET', '/v1/requests/' + id(rid)),
    createRequest: (body, key) => call('POST', '/v1/requests', body, { 'Idempotency-Key': key }),
    evaluate: (body) => call('POST', '/v1/policies/evaluate', body),
    approve: (rid, reasoning) => call('POST', '/v1/requests/' + id(rid) + '/approve', reasoning ? { reasoning } : {}),
    deny: (rid, reasoning) => call('POST', '/v1/requests/' + id(rid) + '/deny', reasoning ? { reasoning } : {}),
    cancel: (rid) => call('POST', '/v1/requests/' + id(rid) + '/cancel'),
    messages: (rid) => call('GET', '/v1/requests/' + id(rid) + '/messages' + q({ limit: 250 })),
    postMessage: (rid, body) => call('POST', '/v1/requests/' + id(rid) + '/messages', { body }),
    listGrants: (p) => call('GET', '/v1/grants' + q(p)),
    getGrant: (gid) => call('GET', '/v1/grants/' + id(gid)),
    revokeGrant: (gid) => call('DELETE', '/v1/grants/' + id(gid)),
    extendGrant: (gid, body) => call('POST', '/v1/grants/' + id(gid) + '/extend', body),
    listRules: (p) => call('GET', '/v1/policy-rules' + q(p)),
    getRule: (rid) => call('GET', '/v1/policy-rules/' + id(rid)),
    createRule: (body) => call('POST', '/v1/policy-rules', body),
    updateRule: (rid, body, revision) => call('PUT', '/v1/policy-rules/' + id(rid), body, revision ? { 'If-Match': String(revision) } : undefined),
    deleteRule: (rid) => call('DELETE', '/v1/policy-rules/' + id(rid)),
    exportRules: () => call('GET', '/v1/policy-rules/export'),
    importRules: (text, replace) => call('POST', '/v1/policy-rules/import' + q({ replace: replace ? 'true' : '' }), text),
    auditLog: (p) => call('GET', '/v1/audit-log' + q(p)),
    verifyAudit: () => call('GET', '/v1/audit-log/verify'),
    listChannels: (p) => call('GET', '/v1/notification-channels' + q(p)),
    createChannel: (body) => call('POST', '/v1/notification-channels', body),
    updateChannel: (cid, body, version) => call('PUT', '/v1/notification-channels/' + id(cid), body, version ? { 'If-Match': String(version) } : undefined),
    deleteChannel: (cid) => call('DELETE', '/v1/notification-channels/' + id(cid)),
    testChannel: (cid) => call('POST', '/v1/notification-channels/' + id(cid) + '/test'),
    listKeys: (p) => call('GET', '/v1/api-keys' + q(p)),
    createKey: (body) => call('POST', '/v1/api-keys', body),
    revokeKey: (kid) => call('DELETE', '/v1/api-keys/' + id(kid)),
  };
}
