// admin.js — the tenant admin's pages: policy rules (with the dry run beside
// the editor), the audit log and its verification, notification channels,
// API keys.
import { h, mount, time, breakGlass, field, notice } from './dom.js';
import { keep, saveDraft } from './auth.js';
import { act, decisionView } from './pages.js';
import { SessionExpired } from './api.js';

function subnav(ctx, current) {
  const items = [['rules', 'Policy rules'], ['audit', 'Audit log'], ['channels', 'Notification channels'], ['keys', 'API keys']];
  return h('nav.subnav', { 'aria-label': 'Admin' }, h('ul', items.map(([k, t]) =>
    h('li', h('a', { href: ctx.base + '/admin/' + k, 'aria-current': k === current ? 'page' : null }, t)))));
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
    const rules = [];
    let cursor;
    do {
      const p = await ctx.api.listRules({ limit: 250, cursor });
      rules.push(...(p.data || []));
      cursor = p.next_cursor;
    } while (cursor);
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
          h('button.small.deny', {
            type: 'button', 'aria-label': 'Delete rule ' + r.id,
            onclick: act(ctx, show, async () => {
              if (!confirm('Delete rule ' + r.id + '?')) return;
              await ctx.api.deleteRule(r.id);
              show(notice('ok', 'Rule ' + r.id + ' deleted.'));
              await load(); runDry();
            }),
          }, 'Delete')))))));
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

export async function channelsPage(el, ctx) {
  const list = h('div'), out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  mount(el, subnav(ctx, 'channels'), h('h1', 'Notification channels'), out, list);
  const chans = (await ctx.api.listChannels()).data || [];
  mount(list, chans.length ? h('table',
    h('thead', h('tr', ['Name', 'Type', 'Events', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', chans.map((c) => h('tr',
      h('td', c.name), h('td', c.type), h('td', (c.event_filters || []).join(', ') || 'all'),
      h('td', c.enabled ? (c.failing ? 'failing: ' + (c.last_error || '') : 'ok') : 'disabled'),
      h('td', c.type === 'email' ? null : h('button.small', {
        type: 'button', 'aria-label': 'Send a test to ' + c.name,
        onclick: act(ctx, show, async () => {
          const r = await ctx.api.testChannel(c.id);
          show(r.delivered ? notice('ok', 'Test delivered to ' + c.name + ' (HTTP ' + r.status_code + ').')
            : notice('error', 'Test to ' + c.name + ' failed after ' + r.attempts + ' attempts: ' + (r.error || 'HTTP ' + r.status_code)));
        }),
      }, 'Send test')))))) : h('p.empty', 'No channels yet.'));
}

export async function keysPage(el, ctx) {
  const list = h('div');
  mount(el, subnav(ctx, 'keys'), h('h1', 'API keys'), list);
  const keys = (await ctx.api.listKeys()).data || [];
  mount(list, keys.length ? h('table',
    h('thead', h('tr', ['Name', 'Prefix', 'Scopes', 'Created', 'Expires', 'Last used', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', keys.map((k) => h('tr',
      h('td', k.name), h('td.mono', k.prefix), h('td', (k.scopes || []).join(', ')), h('td', time(k.created_at)),
      h('td', time(k.expires_at)), h('td', time(k.last_used_at)), h('td', k.revoked ? 'revoked' : 'active'))))) : h('p.empty', 'No API keys.'));
}
