// dom.js — the only way the page puts things on screen. Text is always set
// with textContent / attribute setters, never parsed as HTML, so whatever a
// justification, message or rule name holds is shown as text.

/** h('tag.class#id', {attr: value, onclick: fn}, ...children) */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][A-Za-z0-9_-]+)*)$/.exec(spec);
  if (!m) throw new Error('bad element spec ' + spec);
  const el = document.createElement(m[1]);
  for (const part of m[2].match(/[.#][A-Za-z0-9_-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace el's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A time in the viewer's time zone, with the UTC value on hover. */
export function time(iso) {
  if (!iso) return h('span', '—');
  const d = new Date(iso);
  if (isNaN(d)) return h('span', String(iso));
  return h('time', { datetime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)' },
    d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
}

/** "1h 30m" from seconds. */
export function duration(seconds) {
  seconds = Math.max(0, Math.round(Number(seconds) || 0));
  const d = Math.floor(seconds / 86400), hh = Math.floor((seconds % 86400) / 3600),
    mm = Math.floor((seconds % 3600) / 60), ss = seconds % 60;
  const parts = [];
  if (d) parts.push(d + 'd');
  if (hh) parts.push(hh + 'h');
  if (mm) parts.push(mm + 'm');
  if (!parts.length || (seconds < 120 && ss)) parts.push(ss + 's');
  return parts.join(' ');
}

/** Time left until iso, in words ("12m left", "passed"). */
export function timeLeft(iso, now = Date.now()) {
  if (!iso) return '—';
  const s = (new Date(iso).getTime() - now) / 1000;
  return s <= 0 ? 'deadline passed' : duration(s) + ' left';
}

/** The loud break-glass marker. */
export function breakGlass() {
  return h('span.break-glass', { role: 'img', 'aria-label': 'break-glass' }, '🚨 BREAK-GLASS');
}

export function statusBadge(status) {
  return h('span.badge.status-' + String(status).replace(/[^a-z_]/g, ''), status);
}

export function target(r) {
  const res = r.resource || {};
  const parts = [h('span.mono', (res.type || '') + ' ' + (res.id || ''))];
  if (r.permission_set_arn) parts.push(h('br'), h('span.mono.small', r.permission_set_arn));
  return parts;
}

/** A labelled form field; `draft` names the field's draft key (kept across sign-in). */
export function field(label, input, hint) {
  const id = input.id || 'f-' + Math.random().toString(36).slice(2, 9);
  input.id = id;
  return h('div.field', h('label', { for: id }, label), input, hint ? h('p.hint', hint) : null);
}

export function notice(kind, ...text) {
  return h('div.notice.' + kind, { role: kind === 'error' ? 'alert' : 'status' }, ...text);
}
