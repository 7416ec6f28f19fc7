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

/**
 * Focus el (made focusable by script, not by Tab) so that keyboard and
 * screen-reader users land where the page changed.
 */
export function focusOn(el) {
  if (!el || !el.isConnected) return;
  if (!el.matches('a[href], button, input, select, textarea, [tabindex]')) el.tabIndex = -1;
  el.focus({ preventScroll: false });
}

/**
 * A modal confirmation (<dialog>, Escape cancels, focus kept inside it):
 * resolves true when the person confirms. Focus starts on the safe
 * choice and goes back to where it was when the dialog closes.
 */
export function confirmDialog(question, yes, no = 'Keep') {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const qid = 'dlg-' + Math.random().toString(36).slice(2, 9);
    let done = false;
    const close = (v) => {
      if (done) return;
      done = true;
      d.close(); d.remove();
      if (back && back.isConnected) back.focus();
      resolve(v);
    };
    const keep = h('button', { type: 'button', onclick: () => close(false) }, no);
    const d = h('dialog.confirm', { 'aria-labelledby': qid },
      h('p#' + qid, question),
      h('div.buttons', keep, h('button.deny', { type: 'button', onclick: () => close(true) }, yes)));
    d.addEventListener('cancel', (ev) => { ev.preventDefault(); close(false); });
    document.body.appendChild(d);
    d.showModal();
    keep.focus();
  });
}

/** Remove the field errors showFieldErrors put on form. */
export function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.remove();
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  for (const i of form.querySelectorAll('[data-error-for]')) { i.removeAttribute('aria-describedby'); i.removeAttribute('data-error-for'); }
}

/**
 * Put an API 400's field errors (details.fields: [{field, message}]) right
 * under the inputs they name, in the API's words (its message; the label
 * above names the field): inputFor maps a field name
 * ("name", "scopes[1]", "config.url") to its input or fieldset. Returns
 * the first input with an error (to focus), or null.
 */
export function showFieldErrors(form, fields, inputFor) {
  let first = null;
  for (const f of fields || []) {
    const el = inputFor(String(f.field || ''));
    if (!el) continue;
    const id = (el.id || (el.id = 'f-' + Math.random().toString(36).slice(2, 9))) + '-error';
    let p = document.getElementById(id);
    if (!p) {
      p = h('p.field-error', { id });
      if (el.tagName === 'FIELDSET') el.appendChild(p); else el.after(p); // right under the input, before its hint
    }
    const said = String(f.message || 'is not valid').replace(/^./, (c) => c.toUpperCase());
    p.textContent = p.textContent ? p.textContent + '; ' + said : said;
    if (el.tagName !== 'FIELDSET') el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-describedby', id);
    el.setAttribute('data-error-for', f.field);
    first = first || (el.tagName === 'FIELDSET' ? el.querySelector('input') : el);
  }
  return first;
}
