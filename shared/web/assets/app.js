// app.js — the Approvals page: routing, layout, sign-in screens.
// Every page has its own URL under /ui/t/<tenant>/ so notifications can
// deep-link to it.
import { h, mount, notice, focusOn } from './dom.js';
import { session, signIn, completeSignIn, signOut } from './auth.js';
import { client, SessionExpired } from './api.js';
import { inboxPage, requestPage, newRequestPage, minePage } from './pages.js';
import { rulesPage, auditPage, channelsPage, keysPage } from './admin.js';

const root = document.getElementById('app');
let timers = [];

/** Run fn every ms while the current page is shown. */
function every(ms, fn) { timers.push(setInterval(fn, ms)); }
function stopTimers() { for (const t of timers) clearInterval(t); timers = []; }

export function go(path, replace) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  render();
}

document.addEventListener('click', (ev) => {
  // The skip link moves focus without touching the URL (a #main in it
  // would be a history entry whose popstate re-renders the page).
  const skip = ev.target.closest && ev.target.closest('a.skip');
  if (skip) { ev.preventDefault(); focusOn(document.getElementById('main')); return; }
  const a = ev.target.closest && ev.target.closest('a[href^="/ui/"]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || a.target) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render());

const pages = {
  inbox: { title: 'Inbox', render: inboxPage },
  new: { title: 'New request', render: newRequestPage },
  mine: { title: 'My requests and grants', render: minePage },
  'admin/rules': { title: 'Policy rules', render: rulesPage, admin: true },
  'admin/audit': { title: 'Audit log', render: auditPage, admin: true },
  'admin/channels': { title: 'Notification channels', render: channelsPage, admin: true },
  'admin/keys': { title: 'API keys', render: keysPage, admin: true },
};

function layout(tenant, s, content, current) {
  const base = '/ui/t/' + encodeURIComponent(tenant);
  const link = (href, label, key) => h('a', { href: base + href, 'aria-current': current === key ? 'page' : null }, label);
  return [
    h('a.skip', { href: '#main' }, 'Skip to content'),
    h('header.top',
      h('a.brand', { href: base + '/inbox' }, 'jitsudo'),
      h('nav', { 'aria-label': 'Main' },
        h('ul', h('li', link('/inbox', 'Inbox', 'inbox')), h('li', link('/new', 'New request', 'new')),
          h('li', link('/mine', 'My requests', 'mine')), h('li', link('/admin/rules', 'Admin', 'admin')))),
      h('div.who', h('span', { title: (s.email || s.sub) + ' in organisation ' + tenant }, s.sub + ' @ ' + tenant), ' ',
        h('button.link', { type: 'button', onclick: () => { signOut(tenant); render(); } }, 'Sign out'))),
    h('main#main', { tabindex: '-1' }, content),
  ];
}

function orgForm(message) {
  const input = h('input', { name: 'tenant', required: true, autocomplete: 'organization', pattern: '[A-Za-z0-9][A-Za-z0-9_.-]*' });
  document.title = 'Sign in — jitsudo';
  return mount(root, h('main#main.narrow', { tabindex: '-1' },
    h('h1', 'jitsudo approvals'),
    message ? notice('error', message) : null,
    h('form', { onsubmit: (ev) => { ev.preventDefault(); go('/ui/t/' + encodeURIComponent(input.value.trim()) + '/inbox'); } },
      h('div.field', h('label', { for: 'org' }, 'Which organisation?'), Object.assign(input, { id: 'org' })),
      h('button', { type: 'submit' }, 'Continue'))));
}

/** After a screen change, focus its heading (unless something on it took focus). */
function focusHeading() {
  const h1 = root.querySelector('main h1');
  if (h1 && (document.activeElement === document.body || !document.activeElement || !root.contains(document.activeElement))) focusOn(h1);
}

function signInScreen(tenant, why) {
  document.title = 'Sign in — jitsudo';
  const status = h('div', { 'aria-live': 'polite' });
  const btn = h('button', {
    type: 'button', onclick: async () => {
      btn.disabled = true;
      mount(status, notice('info', 'Redirecting to your identity provider…'));
      try { await signIn(tenant, location.pathname + location.search); } catch (e) {
        btn.disabled = false;
        mount(status, notice('error', e.message));
      }
    },
  }, 'Sign in to ' + tenant);
  mount(root, h('main#main.narrow', { tabindex: '-1' },
    h('h1', 'Sign in'),
    why ? notice('info', why) : null,
    h('p', 'Organisation: ', h('strong', tenant), ' · ', h('a', { href: '/ui/' }, 'another organisation')),
    btn, status));
  focusHeading();
}

async function callback() {
  mount(root, h('main#main.narrow', h('h1', 'Signing in…')));
  try {
    const back = await completeSignIn(new URLSearchParams(location.search));
    go(back, true);
  } catch (e) {
    mount(root, h('main#main.narrow', { tabindex: '-1' }, h('h1', 'Sign-in failed'), notice('error', e.message),
      h('p', h('a', { href: '/ui/' }, 'Start again'))));
    focusHeading();
  }
}

export async function render() {
  stopTimers();
  const path = location.pathname;
  if (path === '/' || path === '/ui' || path === '/ui/') return orgForm();
  if (path === '/ui/callback') return callback();
  const m = /^\/ui\/t\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (!m) return notFound();
  const tenant = decodeURIComponent(m[1]);
  const rest = (m[2] || '').replace(/\/$/, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(tenant)) return orgForm('That is not an organisation name.');
  if (rest === '' || rest === 'admin') return go('/ui/t/' + encodeURIComponent(tenant) + (rest ? '/admin/rules' : '/inbox'), true);
  const s = session(tenant);
  if (!s) return signInScreen(tenant, sessionStorage.getItem('jitsudo.expired') ? 'Your session ended. Sign in again to carry on: what you typed is kept.' : null);
  sessionStorage.removeItem('jitsudo.expired');
  let page, params = {}, key = rest;
  const rm = /^requests\/([^/]+)$/.exec(rest);
  if (rm) { page = { title: 'Request', render: requestPage }; params.id = decodeURIComponent(rm[1]); key = 'request'; }
  else page = pages[rest];
  if (!page) return notFound(tenant, s);
  const content = h('div');
  mount(root, ...layout(tenant, s, content, key.startsWith('admin') ? 'admin' : key));
  document.title = page.title + ' — jitsudo';
  const ctx = {
    tenant, session: s, api: client(tenant), params, every, go,
    base: '/ui/t/' + encodeURIComponent(tenant),
    expired: () => { sessionStorage.setItem('jitsudo.expired', '1'); signOut(tenant); render(); },
  };
  try {
    await page.render(content, ctx);
  } catch (e) {
    if (e instanceof SessionExpired) return ctx.expired();
    mount(content, h('h1', page.title), notice('error', e.message));
  }
  focusHeading();
}

function notFound(tenant, s) {
  const content = [h('h1', 'Page not found'), h('p', 'There is no page at this address.')];
  if (tenant && s) mount(root, ...layout(tenant, s, content, ''));
  else mount(root, h('main#main.narrow', { tabindex: '-1' }, content, h('p', h('a', { href: '/ui/' }, 'Start page'))));
  focusHeading();
}

render();
