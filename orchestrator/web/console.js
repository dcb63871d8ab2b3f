// Kitchen operator console: a snapshot, then live deltas over one EventSource.
// Every delta message is self-contained (a whole ticket, a robot, the alert list), so applying
// one means replacing what is shown. Controls ask for confirmation, send the session's CSRF
// token and show the server's reason when they are refused.
// Every text is the operator's language's (Korean, English or Chinese: console_i18n.json, read
// as in common.js), picked in the header and remembered by the browser; what people wrote
// (diners' notes, operator names) is shown as they wrote it, always as text.
'use strict';

const API = '/console/api';
const LANG_KEY = 'robodine.console.lang';
const FINAL = new Set(['served', 'cancelled', 'failed']);
const AT_PASS = new Set(['ready', 'delivering', 'arrived', 'lost_in_transit']);
// What an operator can do with food lost with its robot (POST orders/{id}/lost); each has a
// label, a title and a question under `lost.{choice}`.
const LOST_CHOICES = ['remake', 'delivered', 'cancel'];
// A dead-lettered dish is not done: it waits for an operator (bump, drop, re-queue).
const UNIT_DONE = new Set(['cooked', 'withdrawn', 'wasted']);
const SVG_NS = 'http://www.w3.org/2000/svg';
// Modes that refuse a pause or resume (operator_actions.UNAVAILABLE), and a dock order: a robot
// in fault can be paused (it stops retrying) but not sent to its dock.
const CANNOT_PAUSE = new Set(['offline', 'unreachable', 'lost', 'estopped']);
const CANNOT_DOCK = new Set([...CANNOT_PAUSE, 'fault']);

const state = {
  me: null, snap: null, clockOffset: 0, tab: 'tickets',
  open: new Map(), finished: [], robots: new Map(), alerts: [], dead: [], audit: [],
  soldout: new Set(), prices: {}, stream: null,
  // What the operator closed, the tables it cuts off (table -> closure), what is tapped on the map.
  closures: [], unreachable: {}, picked: null,
  // The last STOP ALL pressed here: { at } (server ms); robots' answers come as audit entries.
  estop: null,
  // i18n.json, the operator's language, and what changes with it besides the snapshot's views.
  texts: null, lang: 'en', live: 'offline', signinNote: null, redraw: [],
};

const $ = (id) => document.getElementById(id);

// ---- texts ----

// The text at `key` in the operator's language (the console's, else the diner page's that it
// shares: `locale`, `allergen`, a share's state), in English when that language has none;
// undefined if neither has.
function text(key) {
  for (const lang of [state.lang, 'en']) {
    const table = state.texts?.[lang];
    const found = I18n.find(table?.console, key) ?? I18n.find(table, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

// The text at `key` with its {names} filled from `args` (the key itself if there is none).
function t(key, args) {
  const found = text(key);
  if (found === undefined) return key;
  return args ? I18n.fill(found, (name) => shown(name, args)) : found;
}

// A code (a robot's mode, a dish's state, an alert's kind) as the table `table` names it, the
// code itself when the table does not know it.
function code(table, value) {
  for (const lang of [state.lang, 'en']) {
    const texts = state.texts?.[lang];
    const names = I18n.find(texts?.console, table) ?? I18n.find(texts, table);
    if (names && typeof names[value] === 'string') return names[value];
  }
  return String(value ?? '');
}

// Values a text's {names} may hold that are codes, by the value's name, and amounts of money.
const CODES = {
  mode: 'modes', status: 'states', field: 'fields', state: 'table_states', command: 'commands',
  payment_status: 'bill.payment_status',
};
const MONEY = { price: true, owed: true, bill_total: true };

// A value in a text as the operator reads it: a code named in the language, a dish or a table
// by its name, a number in the language's digits; anything else (an id, what a robot said) as is.
function shown(name, args) {
  if (!(name in args) || args[name] === null || args[name] === undefined) return undefined;
  const v = args[name];
  if (name === 'dish' && args.dish_id) return dishName(args.dish_id);
  // A table named by its id, or by its English name with the id beside it (alerts).
  if (name === 'table') return tableName(args.table_id ?? v) ?? String(v);
  if (name === 'weekday' && args.weekday_of) return weekdayName(args.weekday_of);
  if (name === 'day' && /^\d{4}-\d\d-\d\d$/.test(v)) return dayName(v);
  if (name in MONEY && typeof v === 'number' && state.snap) return money(v);
  // A list of codes ('cooked, wasted') names each.
  if (name in CODES) return String(v).split(', ').map((c) => code(CODES[name], c)).join(', ');
  if (typeof v === 'number') return number(v);
  return String(v);
}

// A text the server said by its key (`said`/`reason` and `args`), its English otherwise.
function said(key, args, english) {
  return key && text(key) !== undefined ? t(key, args || {}) : english;
}

function locale() { return t('locale'); }

// A name given in every language ({ko, en, zh}: dishes, stations, ingredients).
function named(names) {
  if (!names || typeof names !== 'object') return String(names ?? '');
  return names[state.lang] ?? names.en;
}

function dishOf(id) { return state.snap?.dishes.find((d) => d.id === id); }

// A table by its id, in the operator's language (undefined: not a table of the floor).
function tableName(id) {
  const table = state.snap?.map.tables.find((tb) => tb.id === id);
  return table ? named(table.name) : undefined;
}

function dishName(id) {
  const dish = dishOf(id);
  return dish ? named(dish.name) : String(id);
}


// Formatters for the language, made once per language.
const formats = {};
function format(kind) {
  const key = `${state.lang}:${kind}`;
  if (!formats[key]) {
    const make = {
      number: () => new Intl.NumberFormat(locale()),
      percent: () => new Intl.NumberFormat(locale(), { style: 'percent' }),
      clock: () => new Intl.DateTimeFormat(locale(), { timeStyle: 'medium', hourCycle: 'h23' }),
      day: () => new Intl.DateTimeFormat(locale(), { dateStyle: 'full' }),
      weekday: () => new Intl.DateTimeFormat(locale(), { weekday: 'long' }),
      plural: () => new Intl.PluralRules(locale()),
      money: () => {
        const { currency, decimals } = state.snap.restaurant;
        return new Intl.NumberFormat(locale(), {
          style: 'currency', currency, minimumFractionDigits: decimals, maximumFractionDigits: decimals,
        });
      },
    };
    formats[key] = make[kind]();
  }
  return formats[key];
}

function number(n) { return format('number').format(n); }

function clock(ms) { return format('clock').format(new Date(ms)); }

function localDay(iso) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(y, m - 1, d);
}

// A day (YYYY-MM-DD) as the language writes it, with its weekday; the weekday alone.
function dayName(iso) { return format('day').format(localDay(iso)); }
function weekdayName(iso) { return format('weekday').format(localDay(iso)); }

function money(minor) {
  return format('money').format(minor / 10 ** state.snap.restaurant.decimals);
}

// A count in a sentence: `key.one` or `key.other` as the language's plural rules choose.
function plural(key, n, args = {}) {
  const form = `${key}.${format('plural').select(n)}`;
  return t(text(form) === undefined ? `${key}.other` : form, { n, ...args });
}

function now() { return Date.now() + state.clockOffset; }

// `scale`: ticket ages are simulated time (real age × the restaurant's time scale).
function ago(ms, scale = 1) {
  const s = Math.max(0, Math.round(((now() - ms) * scale) / 1000));
  if (s < 60) return t('age.seconds', { s: String(s) });
  if (s < 3600) return t('age.minutes', { m: String(Math.floor(s / 60)), s: String(s % 60).padStart(2, '0') });
  return t('age.hours', { h: String(Math.floor(s / 3600)), m: String(Math.floor((s % 3600) / 60)) });
}

function toast(message, kind = 'ok') {
  const box = el('div', { class: `toast ${kind}` }, message);
  $('toasts').append(box);
  setTimeout(() => box.remove(), kind === 'ok' ? 3500 : 7000);
}

// A view's loads overlap (its poll and an action's reload; a tab opened, then a day or a table
// picked): only the newest request's answer is drawn, so a slow answer to an older one never
// replaces it. Returns whether the load started now is still the newest of its view.
const loads = {};
function newestLoad(view) {
  const n = (loads[view] || 0) + 1;
  loads[view] = n;
  return () => loads[view] === n;
}

async function call(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (state.me) headers['X-CSRF-Token'] = state.me.csrf;
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw Object.assign(new Error(e.message), { reason: 'network' });
  }
  let data = null;
  try { data = await res.json(); } catch { /* 204 or not JSON */ }
  if (res.status === 401 && path !== '/login' && state.me) showSignIn('signin.session_ended');
  if (!res.ok) {
    const detail = data && (data.detail || data.message);
    throw Object.assign(new Error(typeof detail === 'string' ? detail : `${res.status} ${res.statusText}`), {
      status: res.status, reason: data?.reason, field: data?.field, args: data?.args,
    });
  }
  return data;
}

// What the server refused, in the operator's language when the page knows its reason (the
// server's detail is English, for logs and API callers); the server's detail otherwise.
function refusal(e) {
  return said(e.reason && `refusals.${e.reason}`, { ...e.args, field: e.field, detail: e.message }, e.message);
}

function confirmAction(question) {
  const dialog = $('confirm');
  $('confirm-text').textContent = question;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-yes').focus();
  });
}

// Runs a confirmed control and reports what the server said; true if it was done.
async function act(question, method, path, body) {
  if (!(await confirmAction(question))) return false;
  try {
    const res = await call(method, path, body);
    toast(said(res?.said, res?.args, res?.detail || t('toast.done')));
    return true;
  } catch (e) {
    toast(t('toast.refused', { reason: refusal(e) }), 'error');
    return false;
  }
}

// A control: a button naming its action and what it acts on (`data-…`).
function control(action, data, label, { cls = 'small', title, disabled } = {}) {
  const attrs = { class: cls, 'data-action': action, title, disabled };
  for (const [k, v] of Object.entries(data)) attrs[`data-${k}`] = v;
  return el('button', attrs, label);
}

// ---- language ----

function setLanguage(lang, remember = true) {
  state.lang = I18n.LANGS.includes(lang) ? lang : 'en';
  if (remember) localStorage.setItem(LANG_KEY, state.lang);
  document.documentElement.lang = state.lang;
  $('lang').value = state.lang;
  I18n.mark(document, t);
  document.title = t('title');
  setLive(state.live);
  if (state.signinNote) $('signin-error').textContent = t(state.signinNote);
  if (state.snap) {
    showHeader();
    renderAll();
  }
  for (const f of state.redraw) f();
}

// ---- sign-in and loading ----

// `note`: a text's key, or a refusal already in words.
function showSignIn(note = null) {
  closeStream();
  state.me = null;
  $('app').hidden = true;
  for (const id of ['who', 'stop-all', 'resume-all', 'sign-out']) $(id).hidden = true;
  $('signin').hidden = false;
  state.signinNote = note && text(note) !== undefined ? note : null;
  $('signin-error').textContent = state.signinNote ? t(note) : note || '';
  setLive('offline');
}

async function signIn(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  try {
    state.me = await call('POST', '/login', { name: form.get('name'), password: form.get('password') });
    ev.target.reset();
    await load();
  } catch (e) {
    state.signinNote = null;
    $('signin-error').textContent = refusal(e);
  }
}

async function signOut() {
  try { await call('POST', '/logout'); } catch { /* signed out anyway */ }
  showSignIn('signin.signed_out');
}

function showHeader() {
  const { snap } = state;
  $('title').textContent = t('title_of', { restaurant: named(snap.restaurant.name) });
  // The operator's name as it was given; the role in the language.
  $('who').textContent = t('who', { name: snap.me.name, role: code('roles', snap.me.role) });
}

async function load() {
  let snap;
  try {
    snap = await call('GET', '/snapshot');
  } catch (e) {
    if (state.me !== null) { setLive('offline'); setTimeout(load, 3000); }
    return;
  }
  state.snap = snap;
  state.me = snap.me;
  state.clockOffset = snap.now - Date.now();
  state.open = new Map(snap.tickets.open.map((tk) => [tk.id, tk]));
  state.finished = snap.tickets.finished;
  state.robots = new Map(snap.robots.map((r) => [r.id, r]));
  state.alerts = snap.alerts;
  state.dead = snap.dead;
  state.audit = snap.audit;
  state.soldout = new Set(snap.soldout);
  state.prices = snap.prices;
  state.closures = snap.closures;
  state.unreachable = snap.unreachable;
  for (const key of Object.keys(formats)) delete formats[key];  // the currency may change
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').hidden = false;
  showHeader();
  for (const id of ['stop-all', 'resume-all', 'sign-out']) $(id).hidden = false;
  drawMapBase();
  renderAll();
  openStream(snap.feed_id);
}

// ---- live updates ----

function setLive(status) {
  state.live = status;
  $('live').textContent = code('live', status);
  $('live').dataset.status = status;
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

function openStream(since) {
  closeStream();
  const es = new EventSource(`${API}/stream?since=${encodeURIComponent(since)}`);
  state.stream = es;
  es.onopen = () => setLive('live');
  es.onmessage = (ev) => apply(JSON.parse(ev.data));
  // The server cut us off (too slow, or it lost its place): start again from a snapshot.
  es.addEventListener('resync', () => { closeStream(); load(); });
  es.onerror = () => {
    setLive('reconnecting');
    if (es.readyState === EventSource.CLOSED) { closeStream(); setTimeout(load, 2000); }
  };
}

function apply(msg) {
  switch (msg.type) {
    case 'ticket': {
      const tk = msg.ticket;
      state.open.delete(tk.id);
      state.finished = state.finished.filter((f) => f.id !== tk.id);
      if (FINAL.has(tk.status)) state.finished = [tk, ...state.finished].slice(0, 40);
      else state.open.set(tk.id, tk);
      schedule('tickets');
      break;
    }
    case 'robot':
      state.robots.set(msg.robot.id, msg.robot);
      schedule('fleet');
      schedule('estop');
      break;
    case 'heartbeats':
      for (const [id, seen] of Object.entries(msg.seen)) {
        const r = state.robots.get(id);
        if (r) r.seen_at = seen;
      }
      schedule('fleet');
      break;
    case 'alerts': {
      // New alerts also pop up, whatever tab the operator is looking at.
      const known = new Set(state.alerts.map((a) => a.id));
      for (const a of msg.alerts) {
        if (!known.has(a.id) && !handled(a)) toast(t('toast.alert', { message: alertText(a) }), 'error');
      }
      state.alerts = msg.alerts;
      schedule('alerts');
      break;
    }
    case 'dead': state.dead = msg.dead; schedule('alerts'); break;
    case 'menu':
      state.soldout = new Set(msg.soldout);
      state.prices = msg.prices;
      schedule('menu');
      break;
    case 'closures':
      state.closures = msg.closures;
      state.unreachable = msg.unreachable;
      schedule('closures');
      schedule('tickets');
      break;
    case 'audit':
      state.audit = [msg.entry, ...state.audit].slice(0, 200);
      schedule('audit');
      if (state.estop) schedule('estop');
      break;
    default: break;
  }
}

const dirty = new Set();
function schedule(part) {
  if (dirty.size === 0) requestAnimationFrame(() => { for (const p of dirty) render[p](); dirty.clear(); });
  dirty.add(part);
}

// ---- rendering ----

const render = {
  tickets: renderTickets, fleet: renderFleet, alerts: renderAlerts, menu: renderMenu,
  audit: renderAudit, estop: renderEstop, closures: renderClosures,
};

function renderAll() { for (const f of Object.values(render)) f(); }

function timeScale() { return state.snap.time_scale || 1; }

function ageClass(createdAt) {
  const age = ((now() - createdAt) * timeScale()) / 1000;
  const { age_warn_s: warn, age_late_s: late } = state.snap.service;
  return age >= late ? 'late' : age >= warn ? 'warn' : 'fresh';
}

function dropButton(orderId, jobId) {
  return control('drop', { order: orderId, job: jobId }, t('tickets.drop'), { title: t('tickets.drop_title') });
}

// `cooking`: the robot cooking the dish, whose copy a bump throws away (the confirmation says so).
function bumpButton(orderId, jobId, cooking) {
  return control('bump', { order: orderId, job: jobId, cooking }, t('tickets.bump'), { title: t('tickets.bump_title') });
}

function unitChip(tk, u) {
  const open = !UNIT_DONE.has(u.status);
  return el('span', { class: `unit ${u.status}`, 'data-job': u.job_id, 'data-status': u.status },
    code('states', u.status), u.robot_id ? ` · ${u.robot_id}` : null,
    open ? bumpButton(tk.id, u.job_id, u.status === 'cooking' ? u.robot_id : null) : null,
    open && u.status === 'dead' ? dropButton(tk.id, u.job_id) : null);
}

function lineItem(tk, line, withUnits) {
  const gone = line.units.length > 0 && line.units.every((u) => u.status === 'withdrawn' || u.status === 'wasted');
  // 'Spice level: Hot' in the operator's language.
  const options = I18n.options(dishOf(line.dish_id), line.option_ids || [], named)
    .map(([option, choice]) => el('li', {}, t('tickets.option', { option, choice })));
  return el('li', { class: `line${gone ? ' gone' : ''}` },
    el('div', {}, el('b', {}, `${line.quantity}×`), ' ', dishName(line.dish_id), ' ',
      line.allergens.map((a) => el('span', { class: 'allergen', 'data-allergen': a }, code('allergen', a)))),
    options.length ? el('ul', { class: 'options' }, options) : null,
    // What the diner wrote, as written.
    line.note ? el('div', { class: 'note' }, `“${line.note}”`) : null,
    withUnits ? el('div', { class: 'units' }, line.units.map((u) => unitChip(tk, u)),
      gone ? null : control('cancel-line', { order: tk.id, line: line.line }, t('tickets.cancel_line'))) : null);
}

function ticketCard(tk, lines, column) {
  const buttons = [];
  if (tk.returned && tk.status === 'ready') {
    buttons.push(control('redeliver', { order: tk.id }, t('tickets.redeliver'), { title: t('tickets.redeliver_title') }));
  }
  if (tk.status === 'lost_in_transit') {
    for (const choice of LOST_CHOICES) {
      buttons.push(control('lost', { order: tk.id, choice }, t(`lost.${choice}.label`), {
        cls: choice === 'cancel' ? 'small danger' : 'small', title: t(`lost.${choice}.title`),
      }));
    }
  }
  if (!AT_PASS.has(tk.status) || tk.status === 'ready') {
    buttons.push(control('cancel-order', { order: tk.id }, t('tickets.cancel_order'), { cls: 'small danger' }));
  }
  // When the diner was told the food reaches the table (the dispatcher's schedule).
  const eta = tk.eta_at && tk.status !== 'arrived'
    ? [' · ', el('span', { class: 'eta' }, t('tickets.eta', { time: clock(tk.eta_at) }))] : null;
  return el('article', {
    class: `ticket ${ageClass(tk.created_at)}`, 'data-order': tk.id, 'data-status': tk.status,
    'data-created': tk.created_at,
  },
  el('header', {}, el('b', {}, named(tk.table)), ' ', el('span', { class: 'oid' }, tk.id), ' ',
    el('span', { class: 'age', 'data-created': tk.created_at }, ago(tk.created_at, timeScale()))),
  el('div', { class: 'status' }, code('states', tk.status), tk.returned ? ` · ${t('tickets.returned')}` : null,
    tk.robot_id ? ` · ${tk.robot_id}` : null, eta),
  // Ready for a table no open way reaches: it waits at the pass until the closure is reopened.
  tk.status === 'ready' && state.unreachable[tk.table_id]
    ? el('div', { class: 'held' }, t('tickets.unreachable', { closure: closureText(state.unreachable[tk.table_id]) }))
    : null,
  el('ul', { class: 'lines' }, lines.map((l) => lineItem(tk, l, column !== 'pass'))),
  el('footer', {}, buttons));
}

function muted(message) { return el('p', { class: 'muted' }, message); }

function renderTickets() {
  const tickets = [...state.open.values()].sort((a, b) => a.created_at - b.created_at);
  const columns = state.snap.stations.map((s) => ({ id: s.id, name: named(s.name), cards: [] }));
  const pass = { id: 'pass', name: t('tickets.pass'), cards: [] };
  const allDay = new Map();  // dish id -> units still to cook
  for (const tk of tickets) {
    if (AT_PASS.has(tk.status)) { pass.cards.push(ticketCard(tk, tk.lines, 'pass')); continue; }
    for (const col of columns) {
      const lines = tk.lines.filter((l) => l.station === col.id && l.units.some((u) => !UNIT_DONE.has(u.status)));
      if (lines.length) col.cards.push(ticketCard(tk, lines, col.id));
    }
    for (const l of tk.lines) {
      const left = l.units.filter((u) => !UNIT_DONE.has(u.status)).length;
      if (left) allDay.set(l.dish_id, (allDay.get(l.dish_id) || 0) + left);
    }
  }
  $('all-day').replaceChildren(...(allDay.size === 0 ? [el('span', { class: 'muted' }, t('tickets.nothing_to_cook'))]
    : [...allDay].sort((a, b) => b[1] - a[1]).map(([id, n]) =>
      el('span', { class: 'chip', 'data-dish': id }, dishName(id), ' ', el('b', {}, number(n))))));
  $('columns').replaceChildren(...[...columns, pass].map((c) => el('section', { class: 'column', 'data-column': c.id },
    el('h2', {}, c.name, ' ', el('span', { class: 'count' }, number(c.cards.length))),
    c.cards.length ? c.cards : muted('—'))));
  $('finished').replaceChildren(...(state.finished.length ? state.finished.map((tk) =>
    el('details', { class: 'ticket done', 'data-order': tk.id, 'data-status': tk.status },
      el('summary', {}, el('b', {}, named(tk.table)), ' ', el('span', { class: 'oid' }, tk.id), ' ',
        t('tickets.finished_at', { status: tk.status, time: clock(tk.updated_at) })),
      el('ul', { class: 'lines' }, tk.lines.map((l) => lineItem(tk, l, false)))))
    : [muted(t('tickets.no_finished'))]));
}

function tickAges() {
  for (const node of document.querySelectorAll('.age[data-created]')) {
    const created = Number(node.dataset.created);
    node.textContent = ago(created, timeScale());
    const card = node.closest('.ticket');
    if (card) { card.classList.remove('fresh', 'warn', 'late'); card.classList.add(ageClass(created)); }
  }
  for (const node of document.querySelectorAll('[data-seen]')) {
    const seen = Number(node.dataset.seen);
    node.textContent = seen ? ago(seen) : t('fleet.never');
  }
}

function svg(tag, attrs, label) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (label !== undefined) node.textContent = label;
  return node;
}

// The map's static layer, drawn once per snapshot; y grows up in the config, down in SVG.
function drawMapBase() {
  const m = state.snap.map;
  const map = $('map');
  const Y = (y) => m.depth - y;
  map.setAttribute('viewBox', `-0.5 -0.5 ${m.width + 1} ${m.depth + 1}`);
  map.replaceChildren();
  map.append(svg('rect', { x: 0, y: 0, width: m.width, height: m.depth, class: 'floor' }));
  for (const a of m.aisles) {
    // A drivable aisle is tapped to close or reopen it.
    const pick = a.drivable ? { 'data-pick': 'aisle', 'data-a': a.a, 'data-b': a.b } : {};
    map.append(svg('line', {
      x1: a.x1, y1: Y(a.y1), x2: a.x2, y2: Y(a.y2), 'stroke-width': a.width,
      class: a.drivable ? 'aisle' : 'aisle narrow', ...pick,
    }));
  }
  for (const w of m.walls) map.append(svg('line', { x1: w.x1, y1: Y(w.y1), x2: w.x2, y2: Y(w.y2), class: 'wall' }));
  const half = m.table_size / 2;
  for (const tb of m.tables) {
    map.append(svg('rect', { x: tb.x - half, y: Y(tb.y) - half, width: m.table_size, height: m.table_size, class: 'table' }));
    map.append(svg('text', { x: tb.x, y: Y(tb.y) + 0.15, class: 'label' }, tb.id));
  }
  for (const p of m.points) {
    map.append(svg('circle', { cx: p.x, cy: Y(p.y), r: 0.22, class: `point ${p.kind}` }));
    // Dock labels go below the point: the robot parked there carries its own label above.
    const dy = p.kind === 'dock' ? 0.6 : -0.35;
    map.append(svg('text', { x: p.x, y: Y(p.y) + dy, class: 'label small' }, p.id));
  }
  for (const j of m.junctions) {
    map.append(svg('circle', { cx: j.x, cy: Y(j.y), r: 0.3, class: 'point junction', 'data-pick': 'waypoint', 'data-waypoint': j.id }));
  }
  map.append(svg('g', { id: 'map-closures' }));
  map.append(svg('g', { id: 'map-robots' }));
}

// ---- re-route: closed aisles and waypoints ----

// A closure's name: `a~b` for an aisle, a waypoint id otherwise.
function closureText(name) {
  const [a, b] = name.split('~');
  return b ? t('closures.aisle', { a, b }) : t('closures.waypoint', { waypoint: a });
}

function closurePath(name) {
  const [a, b] = name.split('~');
  return b ? `/floor/aisles/${encodeURIComponent(a)}/${encodeURIComponent(b)}` : `/floor/waypoints/${encodeURIComponent(a)}`;
}

function pickedName(p) { return p.pick === 'aisle' ? [p.a, p.b].sort().join('~') : p.waypoint; }

// Where a closure is on the map: an aisle's line, or a waypoint's point.
function closureShape(name, cls) {
  const m = state.snap.map;
  const Y = (y) => m.depth - y;
  const [a, b] = name.split('~');
  if (b) {
    const aisle = m.aisles.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
    return aisle && svg('line', { x1: aisle.x1, y1: Y(aisle.y1), x2: aisle.x2, y2: Y(aisle.y2), class: cls, 'data-closure': name });
  }
  const p = [...m.junctions, ...m.points].find((x) => x.id === a);
  return p && svg('circle', { cx: p.x, cy: Y(p.y), r: 0.45, class: cls, 'data-closure': name });
}

function renderClosures() {
  const closed = new Set(state.closures.map((c) => c.name));
  const picked = state.picked ? pickedName(state.picked) : null;
  $('map-closures').replaceChildren(...[...closed].map((n) => closureShape(n, 'closed')),
    picked ? closureShape(picked, 'selected') : null);
  const button = picked && (closed.has(picked)
    ? control('reopen', { closure: picked }, t('closures.reopen'), { cls: 'big' })
    : control('close', { closure: picked }, t('closures.close'), { cls: 'big danger' }));
  const unreachable = Object.entries(state.unreachable);
  $('closures').replaceChildren(
    el('h2', {}, t('closures.title')),
    el('p', { class: 'muted' }, picked ? [closureText(picked), ' '] : t('closures.hint'), button),
    el('ul', { id: 'closed-list' }, state.closures.length ? state.closures.map((c) => el('li', { 'data-closure': c.name },
      el('b', {}, closureText(c.name)), el('span', { class: 'muted' }, t('closures.by', { who: c.by, time: clock(c.at) })),
      control('reopen', { closure: c.name }, t('closures.reopen'), { cls: '' })))
      : [el('li', { class: 'muted' }, t('closures.none'))]),
    unreachable.length ? el('ul', {}, unreachable.map(([table, closure]) => el('li', { class: 'held', 'data-table': table },
      t('closures.unreachable', { table, closure: closureText(closure) })))) : null);
}

function robotMode(r) {
  const lostAfter = state.snap.service.robot_lost_after_s * 1000;
  if (r.mode !== 'offline' && r.seen_at && now() - r.seen_at > lostAfter * 2) return 'lost';
  return r.mode;
}

function jobText(j) {
  return typeof j === 'string' ? j : j.job_id || j.order_id || JSON.stringify(j);
}

function renderFleet() {
  const m = state.snap.map;
  const layer = $('map-robots');
  const robots = [...state.robots.values()];
  for (const r of robots) {
    let g = layer.querySelector(`[data-robot="${CSS.escape(r.id)}"]`);
    if (!g) {
      g = svg('g', { 'data-robot': r.id, class: `robot ${r.kind}` });
      g.append(svg('circle', { r: r.kind === 'serving' ? 0.32 : 0.4 }));
      g.append(svg('text', { y: -0.5, class: 'label small' }, r.id));
      layer.append(g);
    }
    const mode = robotMode(r);
    g.setAttribute('data-mode', mode);
    g.setAttribute('class', `robot ${r.kind} ${mode}`);
    g.style.transform = `translate(${r.x}px, ${m.depth - r.y}px)`;
  }
  $('robots').replaceChildren(...robots.map((r) => {
    const mode = robotMode(r);
    // A robot that does not answer cannot take a command; e-stopped ones wait for "Resume all".
    const off = (modes) => (modes.has(mode)
      ? { disabled: true, title: t('fleet.out_of_reach', { robot: r.id, mode }) } : {});
    const pauseOrResume = mode === 'paused'
      ? control('resume', { robot: r.id }, t('fleet.resume'), { cls: '' })
      : control('pause', { robot: r.id }, t('fleet.pause'), { cls: '', ...off(CANNOT_PAUSE) });
    const dock = r.kind === 'serving' ? control('dock', { robot: r.id }, t('fleet.dock'), { cls: '', ...off(CANNOT_DOCK) }) : null;
    return el('tr', { 'data-robot': r.id, 'data-mode': mode },
      el('td', {}, el('b', {}, r.id), el('br'), el('span', { class: 'muted' }, code('robot_kinds', r.kind))),
      // The robot's own detail, as it reported it.
      el('td', {}, el('span', { class: `mode ${mode}` }, code('modes', mode)),
        r.detail ? [el('br'), el('span', { class: 'muted' }, r.detail)] : null),
      el('td', {}, r.battery === null ? '—' : format('percent').format(r.battery)),
      el('td', {}, r.jobs.length ? r.jobs.map(jobText).join(', ') : '—'),
      el('td', { 'data-seen': r.seen_at }, r.seen_at ? ago(r.seen_at) : t('fleet.never')),
      el('td', {}, el('div', { class: 'buttons' }, pauseOrResume, dock)));
  }));
}

// The values of an alert's or audit entry's text (a JSON object in the record).
function argsOf(record) {
  if (!record.args) return null;
  try { return typeof record.args === 'string' ? JSON.parse(record.args) : record.args; } catch { return null; }
}

// An alert's text in the operator's language, from its text's key and values; one raised
// before alerts had them keeps its English message.
function alertText(a) { return said(a.said, argsOf(a), a.message); }

// Acknowledged, or resolved by itself (its cause went away: the food was served, say).
function handled(a) { return a.acked || a.resolved; }

function renderAlerts() {
  const open = state.alerts.filter((a) => !handled(a));
  $('alert-count').hidden = open.length === 0;
  $('alert-count').textContent = number(open.length);
  const sorted = [...open, ...state.alerts.filter(handled)];
  $('alerts').replaceChildren(...(sorted.length ? sorted.map((a) => el('li', {
    class: `alert ${a.severity}${handled(a) ? ' acked' : ''}`, 'data-alert': a.id, 'data-kind': a.kind,
  },
  el('span', { class: 'when' }, clock(Number(a.at))), ' ', el('b', { class: 'kind' }, code('alert.kinds', a.kind)), ' ',
  el('span', { class: 'text' }, alertText(a)), ' ',
  handled(a) ? el('span', { class: 'muted' }, t(a.acked ? 'alert.acknowledged' : 'alert.resolved'))
    : control('ack', { alert: a.id }, t('alert.acknowledge'))))
    : [el('li', { class: 'muted' }, t('alert.none'))]));
  $('dead').replaceChildren(...(state.dead.length ? state.dead.map((d) => el('li', {
    class: 'alert critical', 'data-dead': d.id,
  },
  el('span', { class: 'text' }, t('alert.dead_line', {
    dish: d.dish_id, dish_id: d.dish_id, table: d.table_id, order: d.order_id, reason: d.reason,
    attempts: Number(d.attempts), robots: d.robots,
  })), ' ',
  control('requeue', { dead: d.id }, t('alert.requeue')), bumpButton(d.order_id, d.job_id),
  dropButton(d.order_id, d.job_id)))
    : [el('li', { class: 'muted' }, t('alert.no_dead'))]));
}

function renderMenu() {
  const manager = state.me && state.me.role === 'manager';
  $('menu').replaceChildren(...state.snap.stations.map((s) => el('section', {},
    el('h2', {}, named(s.name)),
    el('ul', { class: 'dishes' }, state.snap.dishes.filter((d) => d.station === s.id).map((d) => {
      const out = state.soldout.has(d.id);
      const price = state.prices[d.id] ?? d.price;
      const priceEdit = manager ? el('span', { class: 'price-edit' },
        el('input', {
          type: 'number', min: '0', step: '1', value: price, 'aria-label': t('menu.price_of', { dish: named(d.name) }),
          'data-price-of': d.id,
        }),
        control('price', { dish: d.id }, t('menu.set_price')),
        d.id in state.prices ? control('price-reset', { dish: d.id }, t('menu.menu_price')) : null) : null;
      return el('li', { class: `dish${out ? ' soldout' : ''}`, 'data-dish': d.id },
        el('span', { class: 'name' }, named(d.name)), ' ', el('span', { class: 'price' }, money(price)), ' ',
        out ? el('span', { class: 'tag' }, t('menu.sold_out_tag')) : null,
        control(out ? 'back-on' : 'sold-out', { dish: d.id }, t(out ? 'menu.back_on' : 'menu.sold_out'), { cls: '' }),
        priceEdit);
    })))));
}

// After STOP ALL from this console: which robots acknowledged it, which did not apply it
// (refused, expired) and which have not answered yet, from the robots' `robot.estop` audit
// entries. Otherwise (another console stopped them, or this page was reloaded since): which
// robots are e-stopped now, from their own modes, so no operator misses a stopped fleet.
function renderEstop() {
  const box = $('estop-status');
  if (!state.estop) {
    const stopped = [...state.robots.values()].filter((r) => r.mode === 'estopped').map((r) => r.id);
    box.hidden = !stopped.length;
    box.className = 'estop-status failed';
    box.textContent = t('estop.stopped', { n: stopped.length, of: state.robots.size, robots: stopped.join(', ') });
    return;
  }
  const answers = new Map();
  for (const a of state.audit) {  // newest first
    if (a.action === 'robot.estop' && Number(a.at) >= state.estop.at && !answers.has(a.target)) {
      answers.set(a.target, a.result);
    }
  }
  const robots = [...state.robots.keys()];
  const ok = robots.filter((r) => answers.get(r) === 'ok');
  const failed = robots.filter((r) => answers.has(r) && answers.get(r) !== 'ok');
  const waiting = robots.filter((r) => !answers.has(r));
  box.hidden = false;
  box.className = `estop-status ${failed.length ? 'failed' : waiting.length ? 'waiting' : 'done'}`;
  box.textContent = [
    t('estop.acknowledged', { n: ok.length, of: robots.length }),
    failed.length ? t('estop.not_applied', {
      robots: failed.map((r) => `${r} (${code('audit.results', answers.get(r))})`).join(', '),
    }) : null,
    waiting.length ? t('estop.waiting', { robots: waiting.join(', ') }) : null,
  ].filter(Boolean).join(' · ');
}

// An audit entry's result and detail: a refusal or a control's summary in the operator's
// language when the entry has its text's key; what was recorded (a robot's answer) otherwise.
function auditCells(a) {
  const args = argsOf(a) || {};
  let result = code('audit.results', a.result);
  if (a.result.startsWith('refused: ') && a.said) result = t('toast.refused', { reason: said(a.said, args, a.result) });
  const detail = a.result === 'ok' && a.said ? said(a.said, args, a.detail) : a.detail;
  return [el('td', {}, result), el('td', {}, detail)];
}

function renderAudit() {
  $('audit').replaceChildren(...state.audit.map((a) => el('tr', { class: a.result === 'ok' ? '' : 'refused' },
    el('td', {}, clock(Number(a.at))),
    // Who did it, by the name they signed in with.
    el('td', {}, a.who),
    // What was done in the language, over its code (as the API and the logs name it).
    el('td', { 'data-audit-action': a.action }, code('audit.actions', a.action), el('br'),
      el('small', { class: 'muted' }, a.action)),
    el('td', {}, a.target),
    auditCells(a))));
}

// ---- controls (one delegated handler, so re-rendering never loses a listener) ----

const actions = {
  'stop-all': async () => {
    // Robots answer after this moment (less a second of clock skew between the processes).
    const at = now() - 1000;
    if (await act(t('confirm.stop_all'), 'POST', '/fleet/stop')) {
      state.estop = { at };
      renderEstop();
    }
  },
  'resume-all': async () => {
    if (await act(t('confirm.resume_all'), 'POST', '/fleet/resume')) {
      state.estop = null;  // from now on the robots' modes tell
      renderEstop();
    }
  },
  'sign-out': () => signOut(),
  close: (d) => act(t('confirm.close', { closure: closureText(d.closure) }), 'POST', `${closurePath(d.closure)}/close`),
  reopen: (d) => act(t('confirm.reopen', { closure: closureText(d.closure) }), 'POST', `${closurePath(d.closure)}/reopen`),
  pause: (d) => act(t('confirm.pause', { robot: d.robot }), 'POST', `/robots/${d.robot}/pause`),
  resume: (d) => act(t('confirm.resume', { robot: d.robot }), 'POST', `/robots/${d.robot}/resume`),
  dock: (d) => act(t('confirm.dock', { robot: d.robot }), 'POST', `/robots/${d.robot}/dock`),
  bump: (d) => act(d.cooking ? t('confirm.bump_cooking', { job: d.job, robot: d.cooking }) : t('confirm.bump', { job: d.job }),
    'POST', `/orders/${d.order}/dishes/${d.job}/bump`),
  'cancel-line': (d) => act(t('confirm.cancel_line', { line: Number(d.line) + 1, order: d.order }), 'POST',
    `/orders/${d.order}/cancel`, { line: Number(d.line) }),
  redeliver: (d) => act(t('confirm.redeliver', { order: d.order }), 'POST', `/orders/${d.order}/redeliver`),
  lost: (d) => act(t(`lost.${d.choice}.confirm`, { order: d.order }), 'POST', `/orders/${d.order}/lost`,
    { choice: d.choice }),
  'cancel-order': (d) => act(t('confirm.cancel_order', { order: d.order }), 'POST', `/orders/${d.order}/cancel`, {}),
  requeue: (d) => act(t('confirm.requeue'), 'POST', `/dead/${d.dead}/requeue`),
  drop: (d) => act(t('confirm.drop', { job: d.job }), 'POST', `/orders/${d.order}/dishes/${d.job}/drop`),
  ack: (d) => act(t('confirm.ack'), 'POST', `/alerts/${d.alert}/ack`),
  'sold-out': (d) => act(t('confirm.sold_out', { dish: dishName(d.dish) }), 'PUT', `/dishes/${d.dish}/soldout`,
    { soldout: true }),
  'back-on': (d) => act(t('confirm.back_on', { dish: dishName(d.dish) }), 'PUT', `/dishes/${d.dish}/soldout`,
    { soldout: false }),
  price: (d) => {
    const input = document.querySelector(`[data-price-of="${CSS.escape(d.dish)}"]`);
    // Number('') is 0: a field left empty would make the dish free.
    if (!/^\d+$/.test(input.value.trim())) {
      toast(t('toast.refused', { reason: t('menu.whole_number', { dish: dishName(d.dish) }) }), 'error');
      return false;
    }
    const price = Number(input.value);
    return act(t('confirm.price', { dish: dishName(d.dish), price: money(price) }), 'PUT', `/dishes/${d.dish}/price`,
      { price });
  },
  'price-reset': (d) => act(t('confirm.price_reset', { dish: dishName(d.dish) }), 'PUT', `/dishes/${d.dish}/price`,
    { price: null }),
};

document.addEventListener('click', (ev) => {
  const tab = ev.target.closest('[data-tab]');
  if (tab) {
    state.tab = tab.dataset.tab;
    for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b === tab));
    for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${state.tab}`;
    return;
  }
  const pick = ev.target.closest('[data-pick]');
  if (pick) {
    state.picked = { ...pick.dataset };
    renderClosures();
    return;
  }
  const button = ev.target.closest('[data-action]');
  if (button && actions[button.dataset.action]) {
    ev.preventDefault();
    actions[button.dataset.action](button.dataset);
  }
});

document.addEventListener('DOMContentLoaded', async () => {
  $('signin-form').addEventListener('submit', signIn);
  $('lang').addEventListener('change', (ev) => setLanguage(ev.target.value));
  // The texts first (the page's own English stands until then), again until they come.
  while (!state.texts) {
    try {
      state.texts = await I18n.load({ console: 'console_i18n.json' });
    } catch (e) {
      console.warn('texts not loaded, trying again', e);
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
    }
  }
  // The operator's choice on this browser, else the browser's languages, else English.
  setLanguage(I18n.pick([localStorage.getItem(LANG_KEY), ...navigator.languages]), false);
  setInterval(() => { if (state.snap) tickAges(); }, 1000);
  call('GET', '/me').then((me) => { state.me = me; return load(); }).catch(() => showSignIn());
});

// ---- Tables view: dining sessions, bills and payments (its own data, polled while shown) ----

const TABLES_POLL_MS = 3000;
const tablesView = { rows: [], bill: null, billTable: null, timer: null };
state.redraw.push(() => { if (tablesView.rows.length) renderTables(); renderTableBill(); });

async function loadTables() {
  const newest = newestLoad('tables');
  let rows;
  try {
    rows = await call('GET', '/tables');
  } catch (e) {
    if (newest()) toast(t('toast.tables_failed', { reason: refusal(e) }), 'error');
    return;
  }
  if (!newest()) return;
  tablesView.rows = rows;
  renderTables();
  if (tablesView.billTable) loadTableBill(tablesView.billTable);
}

function tableCard(row) {
  const s = row.session;
  const detail = s ? [
    el('p', {}, t('tables.since', { time: clock(s.opened_at), ago: ago(s.opened_at) }),
      s.party_size ? ` · ${t('tables.party_of', { n: s.party_size })}` : null),
    el('p', {}, plural('tables.orders', row.orders), ' · ',
      row.food_waiting ? el('b', {}, plural('tables.food_waiting', row.food_waiting)) : t('tables.all_food_out')),
    el('p', {}, t('tables.paid_of', { paid: money(row.paid), total: money(row.total) })),
  ] : [el('p', { class: 'muted' }, t('tables.free'))];
  const closable = s && (row.state === 'paid' || row.total === 0);
  return el('article', { class: `table-card ${row.state}`, 'data-table': row.id, 'data-state': row.state },
    el('header', {}, el('b', {}, named(row.name)), ' ', el('span', { class: 'state' }, code('table_states', row.state))),
    row.staff_calls ? el('p', { class: 'calls' }, plural('tables.staff_calls', row.staff_calls)) : null,
    detail,
    el('div', { class: 'buttons' },
      el('input', {
        type: 'number', min: '1', max: row.seats * 2, value: s && s.party_size ? s.party_size : row.seats,
        'aria-label': t('tables.party_at', { table: named(row.name) }), 'data-party-of': row.id,
      }),
      control('seat', { table: row.id }, t(s ? 'tables.party_size' : 'tables.seat')),
      s ? control('table-bill', { table: row.id }, t('tables.bill')) : null,
      closable ? control('close-table', { table: row.id }, t('tables.close')) : null));
}

function renderTables() {
  $('tables').replaceChildren(...tablesView.rows.map(tableCard));
}

async function loadTableBill(tableId) {
  const newest = newestLoad('table-bill');
  let bill;
  try {
    bill = await call('GET', `/tables/${tableId}/bill`);
  } catch (e) {
    if (newest()) toast(t('toast.bill_failed', { reason: refusal(e) }), 'error');
    return;
  }
  if (!newest()) return;
  tablesView.bill = bill;
  tablesView.billTable = tableId;
  renderTableBill();
}

// A bill line's options as the menu names them.
function choiceNames(dishId, options) {
  return I18n.options(dishOf(dishId), Object.entries(options), named).map(([, c]) => c).join(', ');
}

function renderTableBill() {
  const b = tablesView.bill;
  const box = $('table-bill');
  box.hidden = !b;
  if (!b) return;
  const manager = state.me && state.me.role === 'manager';
  const row = (...cells) => el('tr', {}, cells.map((c) => el('td', {}, c)));
  const lines = b.lines.map((l) => el('tr', { class: l.reason ? 'zero' : '' },
    el('td', {}, `${named(l.name)} × ${l.quantity}`), el('td', {}, money(l.amount)),
    el('td', { class: 'muted' }, l.reason ? code('zero_reason', l.reason) : choiceNames(l.dish_id, l.options))));
  const taxes = [b.service_charge, b.tax].filter((r) => r.percent).map((r) => row(
    `${r.name} ${number(r.percent)}%${r.inclusive ? ` (${t('bill.included')})` : ''}`, money(r.amount)));
  // Shares, their states and a provider's reasons as the diner's page names them.
  const shares = b.shares.map((s) => el('li', {},
    `${s.id} (${said(`share_${s.kind}`, {}, s.kind)}) ${money(s.amount)} — ${code('share_status', s.status)}`,
    s.declined ? [' ', el('span', { class: 'muted' }, t('bill.declined', { reason: code('decline_reasons', s.declined) }))] : null));
  const pays = b.payments.map((p) => el('li', { 'data-payment': p.id },
    t('bill.payment', { time: clock(p.created_at), payment: p.id, share: p.share_id, amount: money(p.amount) }),
    ' — ', el('b', {}, code('bill.payment_status', p.status)), p.reason ? ` (${code('decline_reasons', p.reason)})` : null,
    manager && p.status === 'paid' ? control('refund', { payment: p.id }, t('bill.refund'), { cls: 'small danger' }) : null));
  const none = () => el('li', { class: 'muted' }, t('bill.none'));
  box.replaceChildren(...[
    el('h2', {}, t('bill.title', { table: tablesView.billTable })),
    el('table', {}, lines, row(t('bill.subtotal'), money(b.subtotal)), taxes,
      row(el('b', {}, t('bill.total')), el('b', {}, money(b.total)))),
    el('h3', {}, t('bill.shares')), el('ul', {}, shares.length ? shares : none()),
    el('h3', {}, t('bill.payments')), el('ul', {}, pays.length ? pays : none()),
    b.overpaid ? el('p', { class: 'error' }, t('bill.overpaid', { amount: money(b.overpaid) })) : null,
  ].filter(Boolean));
}

Object.assign(actions, {
  seat: (d) => {
    const party = Number(document.querySelector(`[data-party-of="${CSS.escape(d.table)}"]`).value);
    return act(t('confirm.seat', { n: party, table: d.table }), 'POST', `/tables/${d.table}/seat`, { party_size: party })
      .then(loadTables);
  },
  'close-table': (d) => act(t('confirm.close_table', { table: d.table }), 'POST', `/tables/${d.table}/close`).then(loadTables),
  'table-bill': (d) => loadTableBill(d.table),
  refund: (d) => act(t('confirm.refund', { payment: d.payment }), 'POST', `/payments/${d.payment}/refund`).then(loadTables),
});

document.addEventListener('click', (ev) => {
  const tab = ev.target.closest('[data-tab]');
  if (!tab) return;
  clearInterval(tablesView.timer);
  if (tab.dataset.tab === 'tables') {
    loadTables();
    tablesView.timer = setInterval(loadTables, TABLES_POLL_MS);
  }
});
