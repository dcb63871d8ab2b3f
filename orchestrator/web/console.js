// Kitchen operator console: a snapshot, then live deltas over one EventSource.
// Every delta message is self-contained (a whole ticket, a robot, the alert list), so applying
// one means replacing what is shown. Controls ask for confirmation, send the session's CSRF
// token and show the server's reason when they are refused.
'use strict';

const API = '/console/api';
const FINAL = new Set(['served', 'cancelled', 'failed']);
const AT_PASS = new Set(['ready', 'delivering', 'arrived', 'lost_in_transit']);
// What an operator can do with food lost with its robot (POST orders/{id}/lost).
const LOST_CHOICES = [
  ['remake', 'Remake', 'cook it again, before newer orders', 'Cook order {o} again?'],
  ['delivered', 'Delivered by hand', 'the food reached the table', 'Mark order {o} delivered by hand?'],
  ['cancel', 'Cancel', 'give up the order', 'Cancel order {o}, lost in transit?'],
];
// A dead-lettered dish is not done: it waits for an operator (bump, drop, re-queue).
const UNIT_DONE = new Set(['cooked', 'withdrawn', 'wasted']);
const SVG_NS = 'http://www.w3.org/2000/svg';
const OUT_OF_REACH = new Set(['offline', 'unreachable', 'lost', 'estopped', 'fault']);

const state = {
  me: null, snap: null, clockOffset: 0, tab: 'tickets',
  open: new Map(), finished: [], robots: new Map(), alerts: [], dead: [], audit: [],
  soldout: new Set(), prices: {}, stream: null,
  // The last STOP ALL pressed here: { at } (server ms); robots' answers come as audit entries.
  estop: null,
};

const $ = (id) => document.getElementById(id);

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function now() { return Date.now() + state.clockOffset; }

// `scale`: ticket ages are simulated time (real age × the restaurant's time scale).
function ago(ms, scale = 1) {
  const s = Math.max(0, Math.round(((now() - ms) * scale) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }

function money(minor) {
  const { currency, decimals } = state.snap.restaurant;
  return new Intl.NumberFormat(undefined, {
    style: 'currency', currency, minimumFractionDigits: decimals,
  }).format(minor / 10 ** decimals);
}

function toast(text, kind = 'ok') {
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = text;
  $('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'ok' ? 3500 : 7000);
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
  const res = await fetch(API + path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch { /* 204 or not JSON */ }
  if (res.status === 401 && path !== '/login' && state.me) showSignIn('Your session ended; sign in again.');
  if (!res.ok) {
    const detail = data && (data.detail || data.message);
    throw new Error(typeof detail === 'string' ? detail : `${res.status} ${res.statusText}`);
  }
  return data;
}

function confirmAction(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
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
    toast(res && res.detail ? res.detail : 'done');
    return true;
  } catch (e) {
    toast(`Refused: ${e.message}`, 'error');
    return false;
  }
}

// ---- sign-in and loading ----

function showSignIn(message = '') {
  closeStream();
  state.me = null;
  $('app').hidden = true;
  for (const id of ['who', 'stop-all', 'resume-all', 'sign-out']) $(id).hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
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
    $('signin-error').textContent = e.message;
  }
}

async function signOut() {
  try { await call('POST', '/logout'); } catch { /* signed out anyway */ }
  showSignIn('Signed out.');
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
  state.open = new Map(snap.tickets.open.map((t) => [t.id, t]));
  state.finished = snap.tickets.finished;
  state.robots = new Map(snap.robots.map((r) => [r.id, r]));
  state.alerts = snap.alerts;
  state.dead = snap.dead;
  state.audit = snap.audit;
  state.soldout = new Set(snap.soldout);
  state.prices = snap.prices;
  $('title').textContent = `${snap.restaurant.name} · kitchen`;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').hidden = false;
  $('who').textContent = `${snap.me.name} (${snap.me.role})`;
  for (const id of ['stop-all', 'resume-all', 'sign-out']) $(id).hidden = false;
  drawMapBase();
  renderAll();
  openStream(snap.feed_id);
}

// ---- live updates ----

function setLive(text) {
  $('live').textContent = text;
  $('live').className = `live ${text}`;
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
      const t = msg.ticket;
      state.open.delete(t.id);
      state.finished = state.finished.filter((f) => f.id !== t.id);
      if (FINAL.has(t.status)) state.finished = [t, ...state.finished].slice(0, 40);
      else state.open.set(t.id, t);
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
      for (const a of msg.alerts) if (!known.has(a.id) && !a.acked) toast(`Alert: ${a.message}`, 'error');
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
  audit: renderAudit, estop: renderEstop,
};

function renderAll() { for (const f of Object.values(render)) f(); }

function timeScale() { return state.snap.time_scale || 1; }

function ageClass(createdAt) {
  const age = ((now() - createdAt) * timeScale()) / 1000;
  const { age_warn_s: warn, age_late_s: late } = state.snap.service;
  return age >= late ? 'late' : age >= warn ? 'warn' : 'fresh';
}

function deadButtons(orderId, jobId) {
  return `<button class="small" data-action="drop" data-order="${esc(orderId)}"
    data-job="${esc(jobId)}" title="the order goes on without it">Drop</button>`;
}

function unitChip(t, u) {
  const bump = UNIT_DONE.has(u.status) ? '' : `<button class="small" data-action="bump"
    data-order="${esc(t.id)}" data-job="${esc(u.job_id)}" title="cooked by hand">Bump</button>${
    u.status === 'dead' ? deadButtons(t.id, u.job_id) : ''}`;
  return `<span class="unit ${esc(u.status)}" data-job="${esc(u.job_id)}">${esc(u.status)}${
    u.robot_id ? ` · ${esc(u.robot_id)}` : ''}${bump}</span>`;
}

function lineHtml(t, line, withUnits) {
  const gone = line.units.length > 0 && line.units.every((u) => u.status === 'withdrawn' || u.status === 'wasted');
  const allergens = line.allergens.map((a) => `<span class="allergen">${esc(a)}</span>`).join('');
  const options = line.options.map((o) => `<li>${esc(o)}</li>`).join('');
  const cancel = gone || !withUnits ? '' : `<button class="small" data-action="cancel-line"
    data-order="${esc(t.id)}" data-line="${line.line}">Cancel line</button>`;
  return `<li class="line${gone ? ' gone' : ''}">
    <div><b>${line.quantity}×</b> ${esc(line.name)} ${allergens}</div>
    ${options ? `<ul class="options">${options}</ul>` : ''}
    ${line.note ? `<div class="note">“${esc(line.note)}”</div>` : ''}
    ${withUnits ? `<div class="units">${line.units.map((u) => unitChip(t, u)).join('')}${cancel}</div>` : ''}
  </li>`;
}

function ticketHtml(t, lines, column) {
  const cancel = AT_PASS.has(t.status) && t.status !== 'ready' ? '' : `<button class="small danger"
    data-action="cancel-order" data-order="${esc(t.id)}">Cancel order</button>`;
  const redeliver = t.returned && t.status === 'ready' ? `<button class="small"
    data-action="redeliver" data-order="${esc(t.id)}" title="nobody took it: send it again">Redeliver</button>` : '';
  const lost = t.status !== 'lost_in_transit' ? '' : LOST_CHOICES.map(([choice, label, title]) =>
    `<button class="small${choice === 'cancel' ? ' danger' : ''}" data-action="lost"
      data-order="${esc(t.id)}" data-choice="${choice}" title="${title}">${label}</button>`).join('');
  const robot = t.robot_id ? ` · ${esc(t.robot_id)}` : '';
  // When the diner was told the food reaches the table (the dispatcher's schedule).
  const eta = t.eta_at && t.status !== 'arrived' ? ` · <span class="eta">ETA ${clock(t.eta_at)}</span>` : '';
  return `<article class="ticket ${ageClass(t.created_at)}" data-order="${esc(t.id)}"
      data-status="${esc(t.status)}" data-created="${t.created_at}">
    <header><b>${esc(t.table)}</b> <span class="oid">${esc(t.id)}</span>
      <span class="age" data-created="${t.created_at}">${ago(t.created_at, timeScale())}</span></header>
    <div class="status">${esc(t.status.replaceAll('_', ' '))}${t.returned ? ' · returned' : ''}${robot}${eta}</div>
    <ul class="lines">${lines.map((l) => lineHtml(t, l, column !== 'pass')).join('')}</ul>
    <footer>${redeliver}${lost}${cancel}</footer>
  </article>`;
}

function renderTickets() {
  const tickets = [...state.open.values()].sort((a, b) => a.created_at - b.created_at);
  const columns = state.snap.stations.map((s) => ({ id: s.id, name: s.name, cards: [] }));
  const pass = { id: 'pass', name: 'Pass', cards: [] };
  const allDay = new Map();
  for (const t of tickets) {
    if (AT_PASS.has(t.status)) { pass.cards.push(ticketHtml(t, t.lines, 'pass')); continue; }
    for (const col of columns) {
      const lines = t.lines.filter((l) => l.station === col.id && l.units.some((u) => !UNIT_DONE.has(u.status)));
      if (lines.length) col.cards.push(ticketHtml(t, lines, col.id));
    }
    for (const l of t.lines) {
      const left = l.units.filter((u) => !UNIT_DONE.has(u.status)).length;
      if (left) allDay.set(l.name, (allDay.get(l.name) || 0) + left);
    }
  }
  $('all-day').innerHTML = allDay.size === 0 ? '<span class="muted">Nothing to cook</span>'
    : [...allDay].sort((a, b) => b[1] - a[1]).map(([name, n]) =>
      `<span class="chip">${esc(name)} <b>${n}</b></span>`).join('');
  $('columns').innerHTML = [...columns, pass].map((c) => `
    <section class="column" data-column="${esc(c.id)}">
      <h2>${esc(c.name)} <span class="count">${c.cards.length}</span></h2>
      ${c.cards.join('') || '<p class="muted">—</p>'}
    </section>`).join('');
  $('finished').innerHTML = state.finished.map((t) => `
    <details class="ticket done" data-order="${esc(t.id)}" data-status="${esc(t.status)}">
      <summary><b>${esc(t.table)}</b> <span class="oid">${esc(t.id)}</span> ${esc(t.status)}
        at ${clock(t.updated_at)}</summary>
      <ul class="lines">${t.lines.map((l) => lineHtml(t, l, false)).join('')}</ul>
    </details>`).join('') || '<p class="muted">No finished tickets yet</p>';
}

function tickAges() {
  for (const el of document.querySelectorAll('.age[data-created]')) {
    const created = Number(el.dataset.created);
    el.textContent = ago(created, timeScale());
    const card = el.closest('.ticket');
    if (card) { card.classList.remove('fresh', 'warn', 'late'); card.classList.add(ageClass(created)); }
  }
  for (const el of document.querySelectorAll('[data-seen]')) {
    const seen = Number(el.dataset.seen);
    el.textContent = seen ? ago(seen) : 'never';
  }
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
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
    map.append(svg('line', {
      x1: a.x1, y1: Y(a.y1), x2: a.x2, y2: Y(a.y2), 'stroke-width': a.width,
      class: a.drivable ? 'aisle' : 'aisle narrow',
    }));
  }
  for (const w of m.walls) map.append(svg('line', { x1: w.x1, y1: Y(w.y1), x2: w.x2, y2: Y(w.y2), class: 'wall' }));
  const half = m.table_size / 2;
  for (const t of m.tables) {
    map.append(svg('rect', { x: t.x - half, y: Y(t.y) - half, width: m.table_size, height: m.table_size, class: 'table' }));
    map.append(svg('text', { x: t.x, y: Y(t.y) + 0.15, class: 'label' }, t.id));
  }
  for (const p of m.points) {
    map.append(svg('circle', { cx: p.x, cy: Y(p.y), r: 0.22, class: `point ${p.kind}` }));
    // Dock labels go below the point: the robot parked there carries its own label above.
    const dy = p.kind === 'dock' ? 0.6 : -0.35;
    map.append(svg('text', { x: p.x, y: Y(p.y) + dy, class: 'label small' }, p.id));
  }
  map.append(svg('g', { id: 'map-robots' }));
}

function robotMode(r) {
  const lostAfter = state.snap.service.robot_lost_after_s * 1000;
  if (r.mode !== 'offline' && r.seen_at && now() - r.seen_at > lostAfter * 2) return 'lost';
  return r.mode;
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
  $('robots').innerHTML = robots.map((r) => {
    const mode = robotMode(r);
    const battery = r.battery === null ? '—' : `${Math.round(r.battery * 100)}%`;
    const jobs = r.jobs.length ? r.jobs.map((j) => esc(typeof j === 'string' ? j : j.job_id || j.order_id || JSON.stringify(j))).join(', ') : '—';
    // A robot that does not answer cannot take a command; e-stopped ones wait for "Resume all".
    const off = OUT_OF_REACH.has(mode) ? ` disabled title="${esc(r.id)} is ${esc(mode)}"` : '';
    const pauseOrResume = mode === 'paused'
      ? `<button data-action="resume" data-robot="${esc(r.id)}">Resume</button>`
      : `<button data-action="pause" data-robot="${esc(r.id)}"${off}>Pause</button>`;
    const dock = r.kind === 'serving' ? `<button data-action="dock" data-robot="${esc(r.id)}"${off}>Dock</button>` : '';
    return `<tr data-robot="${esc(r.id)}" data-mode="${esc(mode)}">
      <td><b>${esc(r.id)}</b><br><span class="muted">${esc(r.kind)}</span></td>
      <td><span class="mode ${esc(mode)}">${esc(mode)}</span>${r.detail ? `<br><span class="muted">${esc(r.detail)}</span>` : ''}</td>
      <td>${battery}</td><td>${jobs}</td>
      <td data-seen="${r.seen_at}">${r.seen_at ? ago(r.seen_at) : 'never'}</td>
      <td><div class="buttons">${pauseOrResume}${dock}</div></td></tr>`;
  }).join('');
}

function renderAlerts() {
  const open = state.alerts.filter((a) => !a.acked);
  $('alert-count').hidden = open.length === 0;
  $('alert-count').textContent = open.length;
  const sorted = [...open, ...state.alerts.filter((a) => a.acked)];
  $('alerts').innerHTML = sorted.map((a) => `
    <li class="alert ${esc(a.severity)}${a.acked ? ' acked' : ''}" data-alert="${esc(a.id)}">
      <span class="when">${clock(Number(a.at))}</span> <b>${esc(a.kind)}</b> ${esc(a.message)}
      ${a.acked ? '<span class="muted">acknowledged</span>'
    : `<button class="small" data-action="ack" data-alert="${esc(a.id)}">Acknowledge</button>`}
    </li>`).join('') || '<li class="muted">No alerts</li>';
  $('dead').innerHTML = state.dead.map((d) => `
    <li class="alert critical" data-dead="${esc(d.id)}">
      <b>${esc(d.dish_id)}</b> for ${esc(d.table_id)} (order ${esc(d.order_id)}): ${esc(d.reason)}
      after ${esc(d.attempts)} attempts on ${esc(d.robots)}
      <button class="small" data-action="requeue" data-dead="${esc(d.id)}">Re-queue</button>
      <button class="small" data-action="bump" data-order="${esc(d.order_id)}"
        data-job="${esc(d.job_id)}" title="cooked by hand">Bump</button>${deadButtons(d.order_id, d.job_id)}
    </li>`).join('') || '<li class="muted">None</li>';
}

function renderMenu() {
  const manager = state.me && state.me.role === 'manager';
  $('menu').innerHTML = state.snap.stations.map((s) => `
    <section><h2>${esc(s.name)}</h2><ul class="dishes">
    ${state.snap.dishes.filter((d) => d.station === s.id).map((d) => {
    const out = state.soldout.has(d.id);
    const price = state.prices[d.id] ?? d.price;
    const priceEdit = manager ? `<span class="price-edit"><input type="number" min="0" step="1"
        value="${price}" aria-label="price of ${esc(d.name)}" data-price-of="${esc(d.id)}">
        <button class="small" data-action="price" data-dish="${esc(d.id)}">Set price</button>
        ${d.id in state.prices ? `<button class="small" data-action="price-reset" data-dish="${esc(d.id)}">Menu price</button>` : ''}</span>` : '';
    return `<li class="dish${out ? ' soldout' : ''}" data-dish="${esc(d.id)}">
        <span class="name">${esc(d.name)}</span> <span class="price">${money(price)}</span>
        ${out ? '<span class="tag">sold out</span>' : ''}
        <button data-action="${out ? 'back-on' : 'sold-out'}" data-dish="${esc(d.id)}">${out ? 'Back on' : 'Sold out'}</button>
        ${priceEdit}</li>`;
  }).join('')}</ul></section>`).join('');
}

// After STOP ALL from this console: which robots acknowledged it, which did not apply it
// (refused, expired) and which have not answered yet, from the robots' `robot.estop` audit
// entries. Otherwise (another console stopped them, or this page was reloaded since): which
// robots are e-stopped now, from their own modes, so no operator misses a stopped fleet.
function renderEstop() {
  const el = $('estop-status');
  if (!state.estop) {
    const stopped = [...state.robots.values()].filter((r) => r.mode === 'estopped').map((r) => r.id);
    el.hidden = !stopped.length;
    el.className = 'estop-status failed';
    el.textContent = `E-STOPPED: ${stopped.length}/${state.robots.size} robots (${stopped.join(', ')})`;
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
  el.hidden = false;
  el.className = `estop-status ${failed.length ? 'failed' : waiting.length ? 'waiting' : 'done'}`;
  el.textContent = `STOP ALL: ${ok.length}/${robots.length} acknowledged${
    failed.length ? ` · not applied: ${failed.map((r) => `${r} (${answers.get(r)})`).join(', ')}` : ''}${
    waiting.length ? ` · waiting for ${waiting.join(', ')}` : ''}`;
}

function renderAudit() {
  $('audit').innerHTML = state.audit.map((a) => `
    <tr class="${a.result === 'ok' ? '' : 'refused'}"><td>${clock(Number(a.at))}</td><td>${esc(a.who)}</td>
    <td>${esc(a.action)}</td><td>${esc(a.target)}</td>
    <td>${esc(a.result)}${a.detail ? ` — ${esc(a.detail)}` : ''}</td></tr>`).join('');
}

// ---- controls (one delegated handler, so re-rendering never loses a listener) ----

function dishName(id) { return (state.snap.dishes.find((d) => d.id === id) || { name: id }).name; }

const actions = {
  'stop-all': async () => {
    // Robots answer after this moment (less a second of clock skew between the processes).
    const at = now() - 1000;
    if (await act('EMERGENCY STOP every robot?', 'POST', '/fleet/stop')) {
      state.estop = { at };
      renderEstop();
    }
  },
  'resume-all': async () => {
    if (await act('Release the emergency stop of every robot?', 'POST', '/fleet/resume')) {
      state.estop = null;  // from now on the robots' modes tell
      renderEstop();
    }
  },
  'sign-out': () => signOut(),
  pause: (d) => act(`Pause ${d.robot}?`, 'POST', `/robots/${d.robot}/pause`),
  resume: (d) => act(`Resume ${d.robot}?`, 'POST', `/robots/${d.robot}/resume`),
  dock: (d) => act(`Send ${d.robot} to its dock?`, 'POST', `/robots/${d.robot}/dock`),
  bump: (d) => act(`Mark ${d.job} as cooked by hand?`, 'POST', `/orders/${d.order}/dishes/${d.job}/bump`),
  'cancel-line': (d) => act(`Cancel line ${Number(d.line) + 1} of order ${d.order}?`, 'POST', `/orders/${d.order}/cancel`, { line: Number(d.line) }),
  redeliver: (d) => act(`Send order ${d.order} to its table again?`, 'POST', `/orders/${d.order}/redeliver`),
  lost: (d) => act(LOST_CHOICES.find((c) => c[0] === d.choice)[3].replace('{o}', d.order), 'POST',
    `/orders/${d.order}/lost`, { choice: d.choice }),
  'cancel-order': (d) => act(`Cancel the whole order ${d.order}?`, 'POST', `/orders/${d.order}/cancel`, {}),
  requeue: (d) => act('Put this dish back in the queue?', 'POST', `/dead/${d.dead}/requeue`),
  drop: (d) => act(`Drop ${d.job}? The order goes on without it.`, 'POST', `/orders/${d.order}/dishes/${d.job}/drop`),
  ack: (d) => act('Acknowledge this alert?', 'POST', `/alerts/${d.alert}/ack`),
  'sold-out': (d) => act(`Mark ${dishName(d.dish)} sold out?`, 'PUT', `/dishes/${d.dish}/soldout`, { soldout: true }),
  'back-on': (d) => act(`Put ${dishName(d.dish)} back on the menu?`, 'PUT', `/dishes/${d.dish}/soldout`, { soldout: false }),
  price: (d) => {
    const input = document.querySelector(`[data-price-of="${CSS.escape(d.dish)}"]`);
    // Number('') is 0: a field left empty would make the dish free.
    if (!/^\d+$/.test(input.value.trim())) {
      toast(`Refused: the price of ${dishName(d.dish)} must be a whole number`, 'error');
      return false;
    }
    const price = Number(input.value);
    return act(`Set the price of ${dishName(d.dish)} to ${money(price)}?`, 'PUT', `/dishes/${d.dish}/price`, { price });
  },
  'price-reset': (d) => act(`Go back to the menu price of ${dishName(d.dish)}?`, 'PUT', `/dishes/${d.dish}/price`, { price: null }),
};

document.addEventListener('click', (ev) => {
  const tab = ev.target.closest('[data-tab]');
  if (tab) {
    state.tab = tab.dataset.tab;
    for (const b of document.querySelectorAll('[data-tab]')) b.setAttribute('aria-selected', String(b === tab));
    for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${state.tab}`;
    return;
  }
  const button = ev.target.closest('[data-action]');
  if (button && actions[button.dataset.action]) {
    ev.preventDefault();
    actions[button.dataset.action](button.dataset);
  }
});

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', signIn);
  setInterval(() => { if (state.snap) tickAges(); }, 1000);
  call('GET', '/me').then((me) => { state.me = me; return load(); }).catch(() => showSignIn());
});

// ---- Tables view: dining sessions, bills and payments (its own data, polled while shown) ----

const TABLES_POLL_MS = 3000;
const tablesView = { rows: [], bill: null, billTable: null, timer: null };

async function loadTables() {
  const newest = newestLoad('tables');
  let rows;
  try {
    rows = await call('GET', '/tables');
  } catch (e) {
    if (newest()) toast(`Tables: ${e.message}`, 'error');
    return;
  }
  if (!newest()) return;
  tablesView.rows = rows;
  renderTables();
  if (tablesView.billTable) loadTableBill(tablesView.billTable);
}

function renderTables() {
  $('tables').innerHTML = tablesView.rows.map((t) => {
    const s = t.session;
    const detail = s ? `
      <p>since ${clock(s.opened_at)} (${ago(s.opened_at)})${s.party_size ? ` · party of ${s.party_size}` : ''}</p>
      <p>${t.orders} order${t.orders === 1 ? '' : 's'} · ${t.food_waiting ? `<b>${t.food_waiting} waiting for food</b>` : 'all food out'}</p>
      <p>${money(t.paid)} paid of ${money(t.total)}</p>` : '<p class="muted">free</p>';
    const closable = s && (t.state === 'paid' || t.total === 0);
    return `<article class="table-card ${esc(t.state)}" data-table="${esc(t.id)}" data-state="${esc(t.state)}">
      <header><b>${esc(t.name)}</b> <span class="state">${esc(t.state)}</span></header>
      ${t.staff_calls ? `<p class="calls">${t.staff_calls} staff call${t.staff_calls === 1 ? '' : 's'} (see Alerts)</p>` : ''}
      ${detail}
      <div class="buttons">
        <input type="number" min="1" max="${t.seats * 2}" value="${s && s.party_size ? s.party_size : t.seats}"
          aria-label="party size at ${esc(t.name)}" data-party-of="${esc(t.id)}">
        <button class="small" data-action="seat" data-table="${esc(t.id)}">${s ? 'Party size' : 'Seat'}</button>
        ${s ? `<button class="small" data-action="table-bill" data-table="${esc(t.id)}">Bill</button>` : ''}
        ${closable ? `<button class="small" data-action="close-table" data-table="${esc(t.id)}">Close</button>` : ''}
      </div></article>`;
  }).join('');
}

async function loadTableBill(tableId) {
  const newest = newestLoad('table-bill');
  let bill;
  try {
    bill = await call('GET', `/tables/${tableId}/bill`);
  } catch (e) {
    if (newest()) toast(`Bill: ${e.message}`, 'error');
    return;
  }
  if (!newest()) return;
  tablesView.bill = bill;
  tablesView.billTable = tableId;
  renderTableBill();
}

function renderTableBill() {
  const b = tablesView.bill;
  const box = $('table-bill');
  box.hidden = !b;
  if (!b) return;
  const manager = state.me && state.me.role === 'manager';
  const lines = b.lines.map((l) => `<tr class="${l.reason ? 'zero' : ''}"><td>${esc(l.name.en)} × ${l.quantity}</td>
    <td>${money(l.amount)}</td><td class="muted">${esc(l.reason || Object.values(l.options).join(', '))}</td></tr>`).join('');
  const taxes = [b.service_charge, b.tax].filter((r) => r.percent).map((r) => `<tr><td>${esc(r.name)} ${r.percent}%
    ${r.inclusive ? '(included)' : ''}</td><td>${money(r.amount)}</td></tr>`).join('');
  const shares = b.shares.map((s) => `<li>${esc(s.id)} (${esc(s.kind)}) ${money(s.amount)} — ${esc(s.status)}
    ${s.declined ? `<span class="muted">declined: ${esc(s.declined)}</span>` : ''}</li>`).join('');
  const pays = b.payments.map((p) => `<li data-payment="${esc(p.id)}">${clock(p.created_at)} ${esc(p.id)} share ${esc(p.share_id)}
    ${money(p.amount)} — <b>${esc(p.status)}</b>${p.reason ? ` (${esc(p.reason)})` : ''}
    ${manager && p.status === 'paid' ? `<button class="small danger" data-action="refund" data-payment="${esc(p.id)}">Refund</button>` : ''}</li>`).join('');
  box.innerHTML = `<h2>Bill · ${esc(tablesView.billTable)}</h2>
    <table>${lines}<tr><td>Subtotal</td><td>${money(b.subtotal)}</td></tr>${taxes}
    <tr><td><b>Total</b></td><td><b>${money(b.total)}</b></td></tr></table>
    <h3>Shares</h3><ul>${shares || '<li class="muted">none</li>'}</ul>
    <h3>Payments</h3><ul>${pays || '<li class="muted">none</li>'}</ul>
    ${b.overpaid ? `<p class="error">Overpaid by ${money(b.overpaid)}: refund it.</p>` : ''}`;
}

Object.assign(actions, {
  seat: (d) => {
    const party = Number(document.querySelector(`[data-party-of="${CSS.escape(d.table)}"]`).value);
    return act(`Seat a party of ${party} at ${d.table}?`, 'POST', `/tables/${d.table}/seat`, { party_size: party }).then(loadTables);
  },
  'close-table': (d) => act(`Close ${d.table} (the table is free again)?`, 'POST', `/tables/${d.table}/close`).then(loadTables),
  'table-bill': (d) => loadTableBill(d.table),
  refund: (d) => act(`Refund payment ${d.payment}? The money goes back to the diner.`, 'POST', `/payments/${d.payment}/refund`).then(loadTables),
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
