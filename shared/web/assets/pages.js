// pages.js — the reviewer's and requester's pages: inbox, request detail,
// new request, my requests and grants.
import { h, mount, time, duration, timeLeft, breakGlass, statusBadge, target, field, notice, focusOn } from './dom.js';
import { keep, clearDrafts, saveDraft, draft } from './auth.js';
import { SessionExpired } from './api.js';

const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const same = (a, b) => String(a || '').trim().toLowerCase() === String(b || '').trim().toLowerCase();

/**
 * Whether a principal id (and its email) is the signed-in person: the API
 * names people of a tenant's own identity provider "<issuer>#<sub>", of
 * the default issuer "<sub>", and treats a verified email as the person.
 * Only for hiding buttons: the API decides.
 */
function isMe(s, id, email) {
  if (!id) return false;
  if (same(id, s.sub) || (s.iss && same(id, s.iss.replace(/\/$/, '') + '#' + s.sub))) return true;
  return !!(s.email && email && same(email, s.email));
}

/** Wrap an action: SessionExpired signs in again (drafts kept), other errors go to show. */
function act(ctx, show, fn) {
  return async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    const btn = ev && ev.submitter ? ev.submitter : (ev && ev.currentTarget && ev.currentTarget.tagName === 'BUTTON' ? ev.currentTarget : null);
    const hadFocus = btn && document.activeElement === btn;
    if (btn) btn.disabled = true;
    try { await fn(); } catch (e) {
      if (e instanceof SessionExpired) return ctx.expired();
      show(notice('error', e.message));
    } finally {
      if (btn && btn.isConnected) {
        btn.disabled = false;
        // Disabling dropped the keyboard focus: give it back unless the action moved it.
        if (hadFocus && (document.activeElement === document.body || !document.activeElement)) btn.focus();
      }
    }
  };
}
function poll(ctx, ms, fn) {
  ctx.every(ms, async () => {
    try { await fn(); } catch (e) { if (e instanceof SessionExpired) ctx.expired(); }
  });
}

/** A person: their email when known, the principal id on hover. */
function person(id, email) {
  return h('span', { title: id }, email || id);
}

function approvals(r) {
  const n = (r.reviews || []).filter((v) => v.decision === 'approved').length;
  return n + ' of ' + (r.approvals_required || 1);
}

function modeText(r) {
  if (r.break_glass || r.approval_mode === 'break_glass') return [breakGlass(), ' ', r.approval_mode || ''];
  return r.approval_mode || '—';
}

// ---------------------------------------------------------------- inbox

export async function inboxPage(el, ctx) {
  const body = h('div', { 'aria-live': 'polite' });
  mount(el, h('h1', 'Inbox'), h('p.lead', 'Pending requests you may review.'), body);
  const load = async () => {
    const page = await ctx.api.reviewable({ limit: 100 });
    const rows = page.data || [];
    if (!rows.length) return mount(body, h('p.empty', 'Nothing to review.'));
    mount(body, h('table',
      h('caption.sr-only', 'Requests waiting for your review'),
      h('thead', h('tr', ['Requester', 'Target', 'Duration', 'Justification', 'Mode', 'Approvals', 'Time left', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rows.map((r) => h('tr', { class: r.break_glass ? 'bg-row' : null },
        h('td', person(r.requester_id, r.requester_email)), h('td', target(r)), h('td', duration(r.duration_seconds)),
        h('td.text', r.reason), h('td', modeText(r)), h('td', approvals(r)),
        h('td', h('span', { title: r.approval_deadline || '' }, timeLeft(r.approval_deadline))),
        h('td', h('a', { href: ctx.base + '/requests/' + encodeURIComponent(r.id), 'aria-label': 'Open request ' + r.id + ' from ' + r.requester_id }, 'Open')))))));
  };
  await load();
  poll(ctx, 10000, load);
}

// ---------------------------------------------------------------- request detail

function stateText(r, g) {
  switch (r.status) {
    case 'pending': return 'Pending review: ' + approvals(r) + ' approvals, ' + timeLeft(r.approval_deadline) + '.';
    case 'denied': return r.decided_by === 'policy' ? 'Denied by policy.' : 'Denied by ' + (lastReview(r, 'denied') || 'a reviewer') + '.';
    case 'cancelled': return 'Cancelled by the requester.';
    case 'expired': return r.decided_by === 'approval_timeout'
      ? 'Expired by the ApprovalTimeoutWorker: nobody decided before the deadline.' : 'Expired.';
    case 'approved':
      if (!g) return 'Approved.';
      switch (g.status) {
        case 'provisioning': return 'Approved — access is being provisioned.';
        case 'active': return 'Approved — access is active until ' + when(g.expires_at) + '.';
        case 'expired': return 'Approved — the grant has ended.';
        case 'revoked': return 'Approved — the grant was revoked' + (g.revoked_by ? ' by ' + g.revoked_by : '') + '.';
        case 'failed': return 'Approved — provisioning failed: ' + (g.failure_reason || 'unknown reason') + '.';
      }
  }
  return r.status;
}
function lastReview(r, decision) {
  const v = (r.reviews || []).filter((x) => x.decision === decision).pop();
  return v && v.reviewer_id;
}

export async function requestPage(el, ctx) {
  const id = ctx.params.id;
  const me = ctx.session;
  const head = h('div'), state = h('div.state', { role: 'status', 'aria-live': 'polite' }), info = h('div'),
    actions = h('div'), thread = h('ol.thread', { 'aria-label': 'Messages' }), out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  let r, g, actionKey = '', msgCount = -1;

  const msgInput = keep(h('textarea', { rows: 3, maxlength: 4000, name: 'message' }), 'msg:' + id);
  const msgForm = h('form.message-form', {
    onsubmit: act(ctx, show, async () => {
      if (!msgInput.value.trim()) return show(notice('error', 'Write a message first.'));
      await ctx.api.postMessage(id, msgInput.value);
      msgInput.value = ''; saveDraft('msg:' + id, '');
      show(notice('ok', 'Message posted.'));
      await load();
      msgInput.focus(); // ready for the next one
    }),
  }, field('Message', msgInput), h('button', { type: 'submit' }, 'Post message'));

  try {
    r = await ctx.api.getRequest(id);
  } catch (e) {
    if (e.status === 404) return mount(el, h('h1', 'Request not found'), notice('error', 'Not found: this request does not exist, or it is not visible to you.'));
    throw e;
  }
  mount(el, head, state, out, info, actions, h('section', h('h2', 'Conversation'), thread, msgForm));

  function renderActions() {
    const reviewed = (r.reviews || []).some((v) => isMe(me, v.reviewer_id));
    const mine = isMe(me, r.requester_id, r.requester_email);
    const key = [r.status, mine, reviewed, g && g.status, g && g.expires_at].join('|');
    if (key === actionKey) return;
    actionKey = key;
    const parts = [];
    if (r.status === 'pending' && !mine && !reviewed) {
      const reasoning = keep(h('textarea', { rows: 2, maxlength: 4000, name: 'reasoning' }), 'reasoning:' + id);
      const decide = (approve) => act(ctx, show, async () => {
        r = approve ? await ctx.api.approve(id, reasoning.value) : await ctx.api.deny(id, reasoning.value);
        saveDraft('reasoning:' + id, '');
        show(notice('ok', approve ? 'You approved this request.' : 'You denied this request.'));
        await load();
        focusOn(out); // the review form is gone: land on what happened
      });
      parts.push(h('section', h('h2', 'Your review'), field('Reasoning (optional)', reasoning),
        h('div.buttons', h('button.approve', { type: 'button', onclick: decide(true) }, 'Approve'),
          h('button.deny', { type: 'button', onclick: decide(false) }, 'Deny'))));
    } else if (r.status === 'pending' && mine) {
      parts.push(h('section', h('h2', 'Your request'), h('p', 'You cannot review your own request.'),
        h('button', { type: 'button', onclick: act(ctx, show, async () => { await ctx.api.cancel(id); show(notice('ok', 'Request cancelled.')); await load(); }) }, 'Cancel request')));
    } else if (r.status === 'pending' && reviewed) {
      parts.push(h('p', 'You have reviewed this request; waiting for others.'));
    }
    if (g && g.status === 'active' && isMe(me, g.grantee_id, g.grantee_email)) parts.push(grantActions(ctx, g, show, load));
    mount(actions, parts);
  }

  async function load() {
    r = await ctx.api.getRequest(id);
    g = r.grant_id ? await ctx.api.getGrant(r.grant_id).catch((e) => { if (e instanceof SessionExpired) throw e; return null; }) : null;
    const msgs = (await ctx.api.messages(id)).data || [];
    mount(head, h('h1', 'Request ', h('span.mono', id)), ' ', statusBadge(r.status), r.break_glass ? [' ', breakGlass()] : null);
    mount(state, stateText(r, g));
    state.className = 'state state-' + r.status + (g ? ' grant-' + g.status : '');
    const row = (k, ...v) => [h('dt', k), h('dd', ...v)];
    mount(info, h('dl.facts',
      row('Requester', person(r.requester_id, r.requester_email)),
      row('Target', target(r)),
      row('Duration', duration(r.duration_seconds)),
      row('Justification', h('span.text', r.reason)),
      row('Mode', modeText(r)),
      row('Approvals', approvals(r)),
      r.approval_deadline ? row('Approval deadline', time(r.approval_deadline), r.status === 'pending' ? ' (' + timeLeft(r.approval_deadline) + ')' : '') : null,
      row('Asked', time(r.created_at)),
      r.decided_at ? row('Decided', time(r.decided_at), r.decided_by ? ' by ' + r.decided_by : '') : null,
      r.decision_reasoning ? row('Decision reasoning', h('span.text', r.decision_reasoning)) : null,
      (r.deciding_rule_ids || []).length ? row('Deciding rules', r.deciding_rule_ids.map((x, i) => [i ? ', ' : '', h('code', x)])) : null,
      (r.notices || []).length ? row('Notices', h('ul', r.notices.map((n) => h('li', n)))) : null,
      (r.reviews || []).length ? row('Reviews', h('ul', r.reviews.map((v) => h('li', v.reviewer_id + ' ' + v.decision + ' ', time(v.at), v.reasoning ? [': ', h('span.text', v.reasoning)] : null)))) : null,
      g ? row('Grant', statusBadge(g.status), g.expires_at ? [' until ', time(g.expires_at)] : null) : null,
    ));
    if (msgs.length !== msgCount) {
      msgCount = msgs.length;
      mount(thread, msgs.length ? msgs.map((m) => h('li.msg.msg-' + m.author_type,
        h('div.meta', h('strong', m.author_type === 'system' ? 'system' : m.author_id), ' ', time(m.created_at)),
        h('p.text', m.body))) : h('li.empty', 'No messages yet.'));
    }
    renderActions();
  }
  await load();
  poll(ctx, 3000, load);
}

function grantActions(ctx, g, show, reload) {
  const dur = h('select', { name: 'extend_duration' }, [[900, '15 minutes'], [1800, '30 minutes'], [3600, '1 hour'], [7200, '2 hours'], [14400, '4 hours']]
    .map(([v, t]) => h('option', { value: v }, t)));
  dur.value = '1800';
  const why = keep(h('input', { name: 'extend_justification', maxlength: 2000 }), 'extend:' + g.id);
  return h('section', h('h2', 'Your access'),
    h('p', 'Active until ', time(g.expires_at), '.'),
    h('form.inline', {
      onsubmit: act(ctx, show, async () => {
        if (!why.value.trim()) return show(notice('error', 'Say why you need longer.'));
        const res = await ctx.api.extendGrant(g.id, { duration_seconds: Number(dur.value), justification: why.value });
        saveDraft('extend:' + g.id, '');
        show(notice('ok', res && res.extension_request && res.extension_request.status === 'pending'
          ? 'Extension asked: it waits for a reviewer.' : 'Extended until ' + when(res.grant.expires_at) + '.'));
        await reload();
      }),
    }, field('Extend by', dur), field('Why', why), h('button', { type: 'submit' }, 'Extend')),
    h('button.deny', {
      type: 'button', onclick: act(ctx, show, async () => {
        await ctx.api.revokeGrant(g.id);
        show(notice('ok', 'Access revoked.'));
        await reload();
      }),
    }, 'Revoke now'));
}

// ---------------------------------------------------------------- new request

export async function newRequestPage(el, ctx) {
  const acct = keep(h('input', { name: 'account', required: true, inputmode: 'numeric', pattern: '[0-9]{12}', autocomplete: 'off' }), 'new:account');
  const ps = keep(h('input', { name: 'permission_set_arn', autocomplete: 'off' }), 'new:ps');
  const dur = keep(h('select', { name: 'duration' }, [[900, '15 minutes'], [1800, '30 minutes'], [3600, '1 hour'], [7200, '2 hours'], [14400, '4 hours'], [28800, '8 hours'], [86400, '1 day']]
    .map(([v, t]) => h('option', { value: v }, t))), 'new:duration');
  if (draft('new:duration') === undefined) dur.value = '3600';
  const just = keep(h('textarea', { name: 'justification', rows: 3, required: true, maxlength: 2000 }), 'new:justification');
  const bg = keep(h('input', { type: 'checkbox', name: 'break_glass' }), 'new:break_glass');
  const preview = h('div.preview', { 'aria-live': 'polite' }, h('p.hint', 'Fill in the target to see what policy will do.'));
  const out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  const body = () => {
    const b = { resource: { type: 'aws_account', id: acct.value.trim() }, duration_seconds: Number(dur.value), justification: just.value, break_glass: bg.checked };
    if (ps.value.trim()) b.permission_set_arn = ps.value.trim();
    return b;
  };
  let seq = 0, timer;
  const dryRun = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!/^[0-9]{12}$/.test(acct.value.trim())) return mount(preview, h('p.hint', 'The account is 12 digits.'));
      if (!just.value.trim()) return mount(preview, h('p.hint', 'Add a justification to see what policy will do.'));
      const mySeq = ++seq;
      try {
        const d = await ctx.api.evaluate(body());
        if (mySeq === seq) mount(preview, decisionView(d));
      } catch (e) {
        if (e instanceof SessionExpired) return ctx.expired();
        if (mySeq === seq) mount(preview, notice('error', e.message));
      }
    }, 250);
  };
  for (const i of [acct, ps, dur, just, bg]) { i.addEventListener('input', dryRun); i.addEventListener('change', dryRun); }
  const form = h('form.new-request', {
    onsubmit: act(ctx, show, async () => {
      const key = 'ui-' + crypto.randomUUID();
      const r = await ctx.api.createRequest(body(), key);
      clearDrafts('new:');
      ctx.go(ctx.base + '/requests/' + encodeURIComponent(r.id));
    }),
  },
  field('AWS account', acct, '12 digits, e.g. 222222222222'),
  field('Permission set ARN (optional)', ps),
  field('Duration', dur),
  field('Justification', just),
  h('div.field.check', bg, h('label', { for: (bg.id = 'break-glass') }, 'Break-glass: emergency access now, audited and announced loudly')),
  h('h2', 'What policy will do'), preview,
  h('button', { type: 'submit' }, 'Submit request'), out);
  mount(el, h('h1', 'New request'), form);
  dryRun();
}

/** A dry run's decision in words. */
export function decisionView(d) {
  const rules = (d.matching_policy_ids || []).length ? [' (rule ', d.matching_policy_ids.map((x, i) => [i ? ', ' : '', h('code', x)]), ')'] : '';
  let line;
  if (!d.permitted) line = h('p.decision.deny', 'Deny: ', d.reason || 'no applicable policy');
  else if (d.approval_mode === 'auto') line = h('p.decision.auto', 'Auto: approved at once', rules, '.');
  else if (d.approval_mode === 'break_glass') line = h('p.decision.bg', breakGlass(), ' granted immediately as an emergency, audited and announced', rules, '.');
  else {
    const n = d.approvals_required || 1;
    line = h('p.decision.require', 'Require: ', n + ' reviewer' + (n > 1 ? 's' : ''), ' within ', d.approval_timeout || '?', rules, '.');
  }
  return [line,
    d.permitted && d.reason ? h('p.hint', d.reason) : null,
    (d.notices || []).length ? h('ul.notices', d.notices.map((n) => h('li', n))) : null,
    (d.errors || []).length ? h('ul.errors', d.errors.map((n) => h('li', n))) : null];
}

// ---------------------------------------------------------------- mine

export async function minePage(el, ctx) {
  const reqs = h('div'), grants = h('div'), out = h('div', { 'aria-live': 'assertive' });
  const show = (n) => mount(out, n);
  mount(el, h('h1', 'My requests and grants'), out, h('h2', 'Requests'), reqs, h('h2', 'Grants'), grants);
  const load = async () => {
    const rs = (await ctx.api.listRequests({ mine: 'true', limit: 50 })).data || [];
    const gs = (await ctx.api.listGrants({ limit: 50 })).data || [];
    mount(reqs, rs.length ? h('table',
      h('thead', h('tr', ['Asked', 'Target', 'Duration', 'Status', 'Mode', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', rs.map((r) => h('tr', { class: r.break_glass ? 'bg-row' : null },
        h('td', time(r.created_at)), h('td', target(r)), h('td', duration(r.duration_seconds)), h('td', statusBadge(r.status)),
        h('td', modeText(r)),
        h('td', h('a', { href: ctx.base + '/requests/' + encodeURIComponent(r.id), 'aria-label': 'Open request ' + r.id }, 'Open'),
          r.status === 'pending' ? [' ', h('button.small', { type: 'button', 'aria-label': 'Cancel request ' + r.id, onclick: act(ctx, show, async () => { await ctx.api.cancel(r.id); show(notice('ok', 'Request cancelled.')); await load(); }) }, 'Cancel')] : null))))) : h('p.empty', 'No requests yet.'));
    mount(grants, gs.length ? h('table',
      h('thead', h('tr', ['Target', 'Status', 'Ends', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', gs.map((g) => h('tr', { class: g.break_glass ? 'bg-row' : null },
        h('td', target(g), g.break_glass ? [' ', breakGlass()] : null), h('td', statusBadge(g.status)), h('td', time(g.expires_at)),
        h('td', h('a', { href: ctx.base + '/requests/' + encodeURIComponent(g.request_id), 'aria-label': 'Open the request of grant ' + g.id }, 'Open'),
          g.status === 'active' ? [' ', h('button.small.deny', { type: 'button', 'aria-label': 'Revoke grant ' + g.id, onclick: act(ctx, show, async () => { await ctx.api.revokeGrant(g.id); show(notice('ok', 'Access revoked.')); await load(); }) }, 'Revoke')] : null))))) : h('p.empty', 'No grants yet.'));
  };
  await load();
  poll(ctx, 10000, load);
}

export { act, poll };
