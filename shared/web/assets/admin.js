// admin.js — the tenant admin's pages: policy rules (with the dry run beside
// the editor), the audit log and its verification, notification channels,
// API keys.
import { h, mount, time, breakGlass, field, notice, focusOn, confirmDialog, clearFieldErrors, showFieldErrors } from './dom.js';
import { keep, saveDraft } from './auth.js';
import { act, decisionView } from './pages.js';
import { SessionExpired, ApiError } from './api.js';

function subnav(ctx, current) {
  const items = [['rules', 'Policy rules'], ['audit', 'Audit log'], ['channels', 'Notification channels'], ['keys', 'API keys']];
  return h('nav.subnav', { 'aria-label': 'Admin' }, h('ul', items.map(([k, t]) =>
    h('li', h('a', { href: ctx.base + '/admin/' + k, 'aria-current': k === current ? 'page' : null }, t)))));
}

/** Every item of a paged list: page({limit, cursor}) until there is no next_cursor. */
async function allPages(page) {
  const items = [];
  let cursor;
  do {
    const p = await page({ limit: 100, cursor });
    items.push(...(p.data || []));
    cursor = p.next_cursor;
  } while (cursor);
  return items;
}

/**
 * A red button that asks first (confirmDialog: question, yes), then runs
 * fn, says done, reloads the list and lands on the outcome (its row's
 * button is gone).
 */
function dangerButton(ctx, show, out, { label, aria, question, yes, done }, fn, reload) {
  return h('button.small.deny', {
    type: 'button', 'aria-label': aria,
    onclick: act(ctx, show, async () => {
      if (!await confirmDialog(question, yes)) return;
      await fn();
      show(notice('ok', done));
      await reload();
      focusOn(out);
    }),
  }, label);
}

const VIEW_FIELDS = ['cedar_text', 'shadowed_by', 'scope_note', 'created_at', 'updated_at', 'revision', 'warnings'];
function editable(rule) {
  const out = {};
  for (const [k, v] of Object.entries(rule)) if (!VIEW_FIELDS.includes(k)) out[k] = v;
  return out;
}

const TEMPLATE = `@id("new-rule")
@name("A new rule")
@priority("100")
@approval_mode("require")
@approval_timeout("1h")
@approvals_required("1")
permit (
    principal in Group::"engineering",
    action in [Action::"request_access"],
    resource in AwsAccount::"333333333333"
);`;

export async function rulesPage(el, ctx) {
  const list = h('div'), out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  let editing = null; // {id, revision} or null (new)
  const text = keep(h('textarea.code', { rows: 14, name: 'policy_text', spellcheck: 'false' }), 'rule:text');
  if (!text.value) text.value = TEMPLATE;
  const editorTitle = h('h2', 'New rule');
  const save = act(ctx, show, async () => {
    const res = editing
      ? await ctx.api.updateRule(editing.id, { policy_text: text.value }, editing.revision)
      : await ctx.api.createRule({ policy_text: text.value });
    saveDraft('rule:text', '');
    show([notice('ok', 'Saved rule ' + res.id + '.'), (res.warnings || []).map((w) => notice('info', w.message))]);
    editing = { id: res.id, revision: res.revision };
    editorTitle.textContent = 'Edit rule ' + res.id;
    await load();
    runDry();
  });
  const editor = h('form.editor', { onsubmit: save }, editorTitle,
    field('Cedar policy (one rule, with its annotations)', text),
    h('div.buttons', h('button', { type: 'submit' }, 'Save rule'),
      h('button', { type: 'button', onclick: () => { editing = null; editorTitle.textContent = 'New rule'; text.value = TEMPLATE; saveDraft('rule:text', ''); text.focus(); } }, 'New rule')));

  // The dry run beside the editor: what the saved rules do to a request.
  const who = keep(h('input', { name: 'dry_principal', value: 'alice' }), 'dry:principal');
  const groups = keep(h('input', { name: 'dry_groups', value: 'engineering' }), 'dry:groups');
  const acct = keep(h('input', { name: 'dry_account', value: '222222222222', inputmode: 'numeric' }), 'dry:account');
  const dur = keep(h('input', { name: 'dry_duration', type: 'number', min: 60, value: 3600 }), 'dry:duration');
  const bg = keep(h('input', { type: 'checkbox', name: 'dry_bg' }), 'dry:bg');
  const result = h('div.preview', { 'aria-live': 'polite' });
  const runDry = async () => {
    try {
      const d = await ctx.api.evaluate({
        resource: { type: 'aws_account', id: acct.value.trim() }, duration_seconds: Number(dur.value) || 3600,
        justification: 'dry run from the rules page', break_glass: bg.checked,
        principal: who.value.trim(), groups: groups.value.split(',').map((s) => s.trim()).filter(Boolean),
      });
      mount(result, decisionView(d), h('p.hint', 'Rule set version ' + d.rule_set_version + '.'));
    } catch (e) {
      if (e instanceof SessionExpired) return ctx.expired();
      mount(result, notice('error', e.message));
    }
  };
  const dry = h('form.dryrun', { onsubmit: (ev) => { ev.preventDefault(); runDry(); } },
    h('h2', 'Dry run'), field('Who', who), field('Their groups (comma separated)', groups), field('AWS account', acct),
    field('Duration (seconds)', dur), h('div.field.check', bg, h('label', { for: (bg.id = 'dry-bg') }, 'Break-glass')),
    h('button', { type: 'submit' }, 'Evaluate'), result);

  const exportArea = h('textarea.code', { rows: 8, readonly: true, name: 'export' });
  const importArea = h('textarea.code', { rows: 8, name: 'import' });
  const replace = h('input', { type: 'checkbox', id: 'import-replace' });
  const io = h('section', h('h2', 'Export and import'),
    h('button', { type: 'button', onclick: act(ctx, show, async () => { exportArea.value = await ctx.api.exportRules(); }) }, 'Export'),
    field('Exported Cedar document', exportArea),
    h('form', {
      onsubmit: act(ctx, show, async () => {
        const res = await ctx.api.importRules(importArea.value, replace.checked);
        show(notice('ok', 'Imported ' + res.imported + ' rules (rule set version ' + res.rule_set_version + ').'));
        await load();
      }),
    }, field('Cedar document to import', importArea), h('div.field.check', replace, h('label', { for: 'import-replace' }, 'Replace: delete rules not in the document')),
    h('button', { type: 'submit' }, 'Import')));

  async function load() {
    const rules = await allPages(ctx.api.listRules);
    mount(list, h('table',
      h('thead', h('tr', ['Rule', 'Effect', 'Priority', 'Mode', 'Enabled', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rules.map((r) => h('tr', { class: r.approval_mode === 'break_glass' ? 'bg-row' : null },
        h('td', h('code', r.id), h('br'), h('span.small', r.name)),
        h('td', r.effect), h('td', String(r.priority)),
        h('td', r.approval_mode === 'break_glass' ? breakGlass() : (r.approval_mode || '—')),
        h('td', r.enabled ? 'yes' : 'no'),
        h('td',
          h('button.small', {
            type: 'button', 'aria-label': 'Edit rule ' + r.id, onclick: () => {
              editing = { id: r.id, revision: r.revision };
              editorTitle.textContent = 'Edit rule ' + r.id;
              text.value = r.cedar_text; saveDraft('rule:text', r.cedar_text); text.focus();
            },
          }, 'Edit'), ' ',
          h('button.small', {
            type: 'button', 'aria-label': (r.enabled ? 'Disable' : 'Enable') + ' rule ' + r.id,
            onclick: act(ctx, show, async () => {
              await ctx.api.updateRule(r.id, { ...editable(r), enabled: !r.enabled }, r.revision);
              show(notice('ok', 'Rule ' + r.id + (r.enabled ? ' disabled.' : ' enabled.')));
              await load(); runDry();
            }),
          }, r.enabled ? 'Disable' : 'Enable'), ' ',
          dangerButton(ctx, show, out, {
            label: 'Delete', aria: 'Delete rule ' + r.id, yes: 'Delete rule', done: 'Rule ' + r.id + ' deleted.',
            question: 'Delete rule ' + r.id + '? Requests it decided keep their decision.',
          }, () => ctx.api.deleteRule(r.id), async () => { await load(); runDry(); })))))));
  }
  mount(el, subnav(ctx, 'rules'), h('h1', 'Policy rules'), out, list, h('div.split', editor, dry), io);
  await load();
  runDry();
}

export async function auditPage(el, ctx) {
  const inputs = {
    actor_id: h('input', { name: 'actor_id' }), action: h('input', { name: 'action', placeholder: 'request.approved' }),
    resource_type: h('input', { name: 'resource_type' }), resource_id: h('input', { name: 'resource_id' }),
    from: h('input', { name: 'from', placeholder: '2026-01-01T00:00:00Z' }), to: h('input', { name: 'to' }),
  };
  const verify = h('div', { 'aria-live': 'polite' }), table = h('div'), out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  const load = async () => {
    const p = {};
    for (const [k, i] of Object.entries(inputs)) p[k] = i.value.trim();
    const evs = (await ctx.api.auditLog({ ...p, limit: 100 })).data || [];
    mount(table, evs.length ? h('table',
      h('thead', h('tr', ['#', 'When', 'Actor', 'Action', 'Resource', 'Reasoning'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', evs.map((e) => h('tr', { class: e.severity === 'critical' ? 'bg-row' : null },
        h('td', String(e.seq)), h('td', time(e.created_at)), h('td', e.actor_id + ' (' + e.actor_type + ')'),
        h('td', e.severity === 'critical' ? [breakGlass(), ' '] : null, h('code', e.action)),
        h('td', e.resource_type + ' ', h('span.mono', e.resource_id)), h('td.text', e.reasoning || ''))))) : h('p.empty', 'No events match.'));
  };
  const form = h('form.filters', { onsubmit: act(ctx, show, load) },
    Object.entries(inputs).map(([k, i]) => field(k.replace('_', ' '), i)), h('button', { type: 'submit' }, 'Filter'));
  mount(el, subnav(ctx, 'audit'), h('h1', 'Audit log'), verify, out, form, table);
  const v = await ctx.api.verifyAudit();
  mount(verify, v.valid ? notice('ok', 'Chain verified: ' + v.checked + ' events, no broken link.')
    : notice('error', 'The chain is broken at event ' + v.first_broken_seq + ': ' + (v.reason || '') + '.'));
  await load();
}

/**
 * A form's submit handler: clears its field errors, runs fn, and on an
 * API refusal shows the API's words — each details.fields entry next to
 * its input (inputFor), the whole in show — and moves focus to the first
 * field to fix (or to the message). A lapsed session signs in again.
 */
function formAction(ctx, form, show, inputFor, fn) {
  return async (ev) => {
    ev.preventDefault();
    const btn = ev.submitter || form.querySelector('button[type="submit"]');
    clearFieldErrors(form);
    if (btn) btn.disabled = true;
    try {
      await fn();
    } catch (e) {
      if (e instanceof SessionExpired) return ctx.expired();
      const msg = show(notice('error', e.message));
      const first = e instanceof ApiError ? showFieldErrors(form, e.details.fields, inputFor) : null;
      focusOn(first || msg);
    } finally {
      if (btn && btn.isConnected) btn.disabled = false;
    }
  };
}

/**
 * A secret shown once: the value in a read-only field, a Copy button, and
 * "Done", which removes it from the page for good (onDone).
 */
function secretBox(title, what, secret, onDone) {
  const hid = 'secret-' + Math.random().toString(36).slice(2, 9);
  const input = h('input.mono.secret', { readonly: true, value: secret, name: 'secret', size: Math.min(secret.length + 2, 80), spellcheck: 'false', autocomplete: 'off' });
  const status = h('p.hint', { role: 'status' });
  const copy = h('button', {
    type: 'button', onclick: async () => {
      input.focus(); input.select();
      let ok = false;
      try { await navigator.clipboard.writeText(secret); ok = true; } catch {
        try { ok = document.execCommand('copy'); } catch { ok = false; }
      }
      status.textContent = ok ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.';
      if (ok) copy.focus();
    },
  }, 'Copy');
  const box = h('section.secret-box', { 'aria-labelledby': hid },
    h('h2#' + hid, title),
    h('p', h('strong', 'Copy it now: it is shown only this once. '), 'jitsudo keeps only a hash of it and cannot show it again.'),
    field(what, input),
    h('div.buttons', copy, h('button', { type: 'button', onclick: () => { box.remove(); onDone(); } }, 'Done: I have stored it')),
    status);
  return box;
}

// ---------------------------------------------------------------- channels

const CHANNEL_TYPES = [['slack_webhook', 'Slack (incoming webhook)'], ['generic_webhook', 'Webhook (signed JSON POST)'], ['email', 'E-mail (through SNS)']];
const EVENT_TYPES = ['request.pending', 'request.approved', 'request.denied', 'request.expired', 'request.cancelled', 'request.break_glass',
  'request.message', 'grant.active', 'grant.expiring_soon', 'grant.expired', 'grant.revoked', 'grant.failed', 'grant.revoke_failed',
  'grant.extended', 'drift.detected'];

/** Lines of "Name: value" as an object; a line without a colon is kept as a name with value '' for the API to refuse. */
function headerLines(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf(':');
    if (i < 0) out[line.trim()] = ''; else out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}
const lines = (text) => text.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);

export async function channelsPage(el, ctx) {
  const list = h('div'), out = h('div', { 'aria-live': 'assertive' }), secret = h('div');
  const show = (n) => mount(out, n).firstChild;
  const listHeading = h('h2', 'Channels');

  const name = h('input', { name: 'channel_name', maxlength: 100, autocomplete: 'off' });
  const type = h('select', { name: 'channel_type' }, CHANNEL_TYPES.map(([v, t]) => h('option', { value: v }, t)));
  const url = h('input', { name: 'channel_url', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', size: 60 });
  const headers = h('textarea.code', { name: 'channel_headers', rows: 2, spellcheck: 'false' });
  const addresses = h('textarea', { name: 'channel_addresses', rows: 2, spellcheck: 'false' });
  const onlyNamed = h('input', { type: 'checkbox', name: 'only_named_by_rules', id: 'ch-only-named' });
  const filters = EVENT_TYPES.map((ev) => h('input', { type: 'checkbox', name: 'event_filters', value: ev, id: 'ch-ev-' + ev.replace(/[^a-z_]/g, '-') }));
  const filterSet = h('fieldset.checks', h('legend', 'Events (none ticked: every event)'),
    filters.map((c) => h('span.check', c, h('label', { for: c.id }, c.value))));
  const urlField = field('Webhook URL', url, 'Slack: the incoming-webhook URL Slack gives you (on hooks.slack.com); a webhook: your HTTPS endpoint');
  const headersField = field('Extra headers (one "Name: value" a line, optional)', headers);
  const addressesField = field('E-mail addresses (one a line; each confirms its subscription first)', addresses);
  const showType = () => {
    urlField.hidden = type.value === 'email';
    headersField.hidden = type.value !== 'generic_webhook';
    addressesField.hidden = type.value !== 'email';
  };
  type.addEventListener('change', showType);
  showType();
  const inputFor = (f) => {
    if (f === 'name') return name;
    if (f === 'type') return type;
    if (f === 'config.url' || f === 'url') return url;
    if (f.startsWith('config.headers')) return headers;
    if (f.startsWith('config.addresses')) return addresses;
    if (f.startsWith('event_filters')) return filterSet;
    if (f === 'only_named_by_rules') return onlyNamed;
    return null;
  };
  const form = h('form.channel-form', { 'aria-labelledby': 'new-channel' }, h('h2#new-channel', 'New channel'),
    field('Name', name), field('Type', type), urlField, headersField, addressesField, filterSet,
    h('div.field.check', onlyNamed, h('label', { for: onlyNamed.id }, 'Only the events rules send here (a rule\'s notification_channel)')),
    h('div.buttons', h('button', { type: 'submit' }, 'Create channel')));
  form.addEventListener('submit', formAction(ctx, form, show, inputFor, async () => {
    const body = { name: name.value, type: type.value, only_named_by_rules: onlyNamed.checked, config: {} };
    const evs = filters.filter((c) => c.checked).map((c) => c.value);
    if (evs.length) body.event_filters = evs;
    if (type.value === 'email') body.config.addresses = lines(addresses.value);
    else body.config.url = url.value.trim();
    if (type.value === 'generic_webhook' && headers.value.trim()) body.config.headers = headerLines(headers.value);
    const ch = await ctx.api.createChannel(body);
    form.reset(); showType();
    const msg = show(notice('ok', 'Channel ' + ch.name + ' created.'));
    await load();
    if (ch.signing_secret) {
      mount(secret, secretBox('Signing secret of ' + ch.name, 'Signing secret (verify the X-Jitsudo-Signature header with it)', ch.signing_secret,
        () => focusOn(listHeading)));
      focusOn(secret.querySelector('input'));
    } else focusOn(msg);
  }));

  async function load() {
    const chans = await allPages(ctx.api.listChannels);
    mount(list, chans.length ? h('table',
      h('caption.sr-only', 'Notification channels'),
      h('thead', h('tr', ['Name', 'Type', 'Destination', 'Events', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', chans.map((c) => h('tr',
        h('td', c.name), h('td', c.type),
        h('td.mono.small', c.type === 'email' ? (c.addresses || []).join(', ') : (c.url || '')),
        h('td.small', (c.event_filters || []).join(', ') || 'all', c.only_named_by_rules ? ' (only when a rule names it)' : ''),
        h('td', c.enabled ? (c.failing ? 'failing: ' + (c.last_error || '') : 'on') : 'off'),
        h('td.actions',
          c.type === 'email' ? null : h('button.small', {
            type: 'button', 'aria-label': 'Send a test to ' + c.name,
            onclick: act(ctx, show, async () => {
              const r = await ctx.api.testChannel(c.id);
              show(r.delivered ? notice('ok', 'Test delivered to ' + c.name + ' (HTTP ' + r.status_code + ').')
                : notice('error', 'Test to ' + c.name + ' failed after ' + r.attempts + ' attempts: ' + (r.error || 'HTTP ' + r.status_code)));
            }),
          }, 'Send test'), ' ',
          h('button.small', {
            type: 'button', 'aria-label': (c.enabled ? 'Turn off ' : 'Turn on ') + c.name,
            onclick: act(ctx, show, async () => {
              await ctx.api.updateChannel(c.id, { enabled: !c.enabled, config: {} }, c.version);
              show(notice('ok', c.name + (c.enabled ? ' is off: it gets no events.' : ' is on.')));
              await load();
              focusOn(list.querySelector('button[aria-label="' + (c.enabled ? 'Turn on ' : 'Turn off ') + CSS.escape(c.name) + '"]') || out);
            }),
          }, c.enabled ? 'Turn off' : 'Turn on'), ' ',
          dangerButton(ctx, show, out, {
            label: 'Delete', aria: 'Delete ' + c.name, yes: 'Delete channel', done: 'Channel ' + c.name + ' deleted.',
            question: 'Delete channel ' + c.name + '? It gets no more events.',
          }, () => ctx.api.deleteChannel(c.id), load)))))) : h('p.empty', 'No channels yet.'));
  }
  mount(el, subnav(ctx, 'channels'), h('h1', 'Notification channels'), out, secret, listHeading, list, form);
  await load();
}

// ---------------------------------------------------------------- API keys

const SCOPES = [
  ['admin', 'admin: everything in this organisation'],
  ['policies:write', 'policies:write: change policy rules'],
  ['policies:read', 'policies:read: read rules, dry-run anyone'],
  ['requests:read', 'requests:read: read requests and grants'],
  ['requests:write', 'requests:write: ask for access, review, revoke'],
];
const LIFETIMES = [['', 'Never'], ['86400', '1 day'], ['2592000', '30 days'], ['7776000', '90 days'], ['31536000', '1 year']];

export async function keysPage(el, ctx) {
  const list = h('div'), out = h('div', { 'aria-live': 'assertive' }), secret = h('div');
  const show = (n) => mount(out, n).firstChild;
  const listHeading = h('h2', 'Keys');
  const name = h('input', { name: 'key_name', maxlength: 256, autocomplete: 'off' });
  const scopes = SCOPES.map(([v]) => h('input', { type: 'checkbox', name: 'scopes', value: v, id: 'key-scope-' + v.replace(':', '-') }));
  const scopeSet = h('fieldset.checks', h('legend', 'Scopes'), scopes.map((c, i) => h('span.check', c, h('label', { for: c.id }, SCOPES[i][1]))));
  const expires = h('select', { name: 'expires_in_seconds' }, LIFETIMES.map(([v, t]) => h('option', { value: v }, t)));
  expires.value = '7776000';
  const inputFor = (f) => f === 'name' ? name : f.startsWith('scopes') ? scopeSet : f === 'expires_in_seconds' ? expires : null;
  const form = h('form.key-form', { 'aria-labelledby': 'new-key' }, h('h2#new-key', 'New API key'),
    field('Name (what uses it, e.g. "ci deploy")', name), scopeSet, field('Expires after', expires),
    h('div.buttons', h('button', { type: 'submit' }, 'Create key')));
  form.addEventListener('submit', formAction(ctx, form, show, inputFor, async () => {
    const body = { name: name.value, scopes: scopes.filter((c) => c.checked).map((c) => c.value) };
    if (expires.value) body.expires_in_seconds = Number(expires.value);
    const k = await ctx.api.createKey(body);
    form.reset(); expires.value = '7776000';
    show(notice('ok', 'API key ' + k.name + ' created (' + k.id + ').'));
    await load();
    mount(secret, secretBox('The new key ' + k.name, 'API key (send it as the X-API-Key header, with X-Tenant-ID: ' + ctx.tenant + ')', k.key,
      () => focusOn(listHeading)));
    focusOn(secret.querySelector('input'));
  }));

  async function load() {
    const keys = await allPages(ctx.api.listKeys);
    const expired = (k) => k.expires_at && new Date(k.expires_at).getTime() <= Date.now();
    mount(list, keys.length ? h('table',
      h('caption.sr-only', 'API keys'),
      h('thead', h('tr', ['Name', 'Prefix', 'Scopes', 'Created', 'Expires', 'Last used', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', keys.map((k) => h('tr',
        h('td', k.name), h('td.mono', k.prefix), h('td', (k.scopes || []).join(', ')), h('td', time(k.created_at)),
        h('td', k.expires_at ? time(k.expires_at) : 'never'), h('td', k.last_used_at ? time(k.last_used_at) : 'never'),
        h('td', k.revoked ? 'revoked' : expired(k) ? 'expired' : 'active'),
        h('td', k.revoked ? null : dangerButton(ctx, show, out, {
          label: 'Revoke', aria: 'Revoke ' + k.name + ' (' + k.prefix + ')', yes: 'Revoke key', done: 'API key ' + k.name + ' revoked.',
          question: 'Revoke ' + k.name + '? Whatever uses it is refused from now on.',
        }, () => ctx.api.revokeKey(k.id), load)))))) : h('p.empty', 'No API keys.'));
  }
  mount(el, subnav(ctx, 'keys'), h('h1', 'API keys'), out, secret, listHeading, list, form);
  await load();
}
