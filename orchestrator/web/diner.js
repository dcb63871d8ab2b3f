// The diner's page: menu, cart, order, live status over SSE; the bill, split and pay; call
// staff. Vanilla JS, no build step. The path holds this visit's code (api/visits.py).
'use strict';

const TOKEN = decodeURIComponent(location.pathname.split('/').pop());
const API = `/api/tables/${encodeURIComponent(TOKEN)}`;
// The visit's stream carries every change; the poll is for when it is refused or held up.
const POLL_MS = 15000;

const state = {
  lang: localStorage.getItem('robodine.lang') || document.body.dataset.lang,
  i18n: null,
  menu: null,
  cart: [],           // {dish, options: {opt: choice}, quantity, note}
  orders: new Map(),  // id -> order as the API shows it
  pendingKey: null,   // Idempotency-Key of an order not yet acknowledged (reused on retry)
  sheet: null,        // dish being configured
  tab: 'menu',
  tableName: null,    // {ko, en, zh}, from GET /visit
  bill: null,         // the bill as GET /bill shows it
  claim: new Map(),   // bill line key -> units chosen for my share
  payKeys: new Map(), // share id -> Idempotency-Key of a payment not yet acknowledged
  billTimer: null,
  partySeats: 0,      // the table's seats while the party size is asked, else 0
};

const $ = (sel) => document.querySelector(sel);

// Texts and `el` are the console's too (common.js).
const t = (key) => I18n.find(state.i18n?.[state.lang], key) ?? key;
const name = (names) => names[state.lang] ?? names.en;
// The spoken name of a − or + button: "One more Kung Pao Chicken".
const stepLabel = (key, names) => t(key).replace('{dish}', name(names));

function money(minor) {
  const r = state.menu.restaurant;
  const major = minor / 10 ** r.currency_decimals;
  return new Intl.NumberFormat(t('locale'), {
    style: 'currency', currency: r.currency,
    minimumFractionDigits: r.currency_decimals, maximumFractionDigits: r.currency_decimals,
  }).format(major);
}

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function toast(text, ms = 3000) {
  // Emptied, not hidden, when it goes: a live region hidden until its news is not always read
  // out (the offline notice likewise).
  const box = $('#toast');
  box.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.textContent = ''; }, ms);
}

async function api(path, options = {}) {
  const res = await fetch(API + path, options);
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) {
    throw Object.assign(new Error(body?.detail || res.statusText), {
      status: res.status, reason: body?.reason, field: body?.field,
    });
  }
  return body;
}

// A refusal in the diner's language when the page knows its reason (the server's detail is
// English); a refused line's dish (field `items[1].dish_id`) is named from `lines`. No answer
// (the phone offline: fetch's "Failed to fetch") or a server error is a connection problem.
function refusal(err, lines = []) {
  const text = t('refusals')[err.reason];
  if (!text) return !err.status || err.status >= 500 ? t('retry') : err.message;
  const line = lines[Number(/^items\[(\d+)\]/.exec(err.field ?? '')?.[1])];
  return text.replace('{dish}', line ? name(line.dish.name) : '');
}

// ---- menu -----------------------------------------------------------------------------

function dishById(id) {
  for (const c of state.menu.categories) {
    const d = c.dishes.find((x) => x.id === id);
    if (d) return d;
  }
  return null;
}

function renderMenu() {
  const main = $('#menu');
  const nav = $('#categories');
  main.replaceChildren();
  nav.replaceChildren();
  for (const cat of state.menu.categories) {
    if (!cat.dishes.length) continue;
    nav.append(el('a', { href: `#cat-${cat.id}` }, name(cat.name)));
    const list = el('ul', { class: 'dishes' });
    for (const d of cat.dishes) {
      const allergens = d.allergens.map((a) => t('allergen')[a] || a).join(' · ');
      list.append(el('li', {},
        el('button', {
          type: 'button', class: 'dish', 'data-dish': d.id, disabled: !d.available,
          onclick: () => openDish(d),
        },
        el('span', { class: 'dish-name' }, name(d.name)),
        el('span', { class: 'price' }, d.available ? money(d.price) : t('sold_out')),
        allergens ? el('span', { class: 'allergen-tags' }, `⚠ ${allergens}`) : null)));
    }
    main.append(el('section', { id: `cat-${cat.id}`, class: 'category' },
      el('h2', {}, name(cat.name)), list));
  }
  main.removeAttribute('aria-busy');
}

// ---- dish sheet ------------------------------------------------------------------------

function sheetUnitPrice() {
  const { dish } = state.sheet;
  let price = dish.price;
  for (const opt of dish.options) {
    const chosen = $(`input[name="opt-${opt.id}"]:checked`)?.value ?? opt.default;
    price += opt.choices.find((c) => c.id === chosen).price_delta;
  }
  return price;
}

function refreshSheet() {
  $('#qty').value = String(state.sheet.quantity);
  $('#qty-minus').setAttribute('aria-label', stepLabel('fewer', state.sheet.dish.name));
  $('#qty-plus').setAttribute('aria-label', stepLabel('more', state.sheet.dish.name));
  $('#add-to-cart').textContent = `${t('add')} · ${money(sheetUnitPrice() * state.sheet.quantity)}`;
}

function openDish(dish) {
  state.sheet = { dish, quantity: 1 };
  $('#dish-title').textContent = name(dish.name);
  $('#dish-allergens').textContent = dish.allergens.length
    ? `${t('allergens')}: ${dish.allergens.map((a) => t('allergen')[a] || a).join(', ')}` : '';
  $('#dish-note').value = '';
  const box = $('#dish-options');
  box.replaceChildren();
  for (const opt of dish.options) {
    const fs = el('fieldset', { class: 'option' }, el('legend', {}, name(opt.name)));
    for (const c of opt.choices) {
      const delta = c.price_delta ? ` (+${money(c.price_delta)})` : '';
      fs.append(el('label', { class: 'choice' },
        el('input', {
          type: 'radio', name: `opt-${opt.id}`, value: c.id, checked: c.id === opt.default,
          'data-option': opt.id, 'data-choice': c.id, onchange: refreshSheet,
        }),
        el('span', {}, name(c.name) + delta)));
    }
    box.append(fs);
  }
  refreshSheet();
  $('#dish-sheet').showModal();
}

function addFromSheet() {
  const { dish, quantity } = state.sheet;
  const options = {};
  for (const opt of dish.options) {
    options[opt.id] = $(`input[name="opt-${opt.id}"]:checked`).value;
  }
  const note = $('#dish-note').value.trim();
  const same = state.cart.find((l) => l.dish.id === dish.id && l.note === note
    && JSON.stringify(l.options) === JSON.stringify(options));
  if (same) same.quantity = Math.min(20, same.quantity + quantity);
  else state.cart.push({ dish, options, quantity, note });
  state.pendingKey = null;  // a different order now
  renderCart();
}

// ---- cart ------------------------------------------------------------------------------

function lineUnit(line) {
  return line.dish.price + line.dish.options.reduce(
    (sum, opt) => sum + opt.choices.find((c) => c.id === line.options[opt.id]).price_delta, 0);
}

// The cart outlives a reload (a phone drops a page it put in the background): kept in
// localStorage for this visit's code only, restored once the menu is known.
const CART_KEY = 'robodine.cart';

function saveCart() {
  const lines = state.cart.map((l) => ({
    dish: l.dish.id, options: l.options, quantity: l.quantity, note: l.note,
  }));
  if (lines.length) localStorage.setItem(CART_KEY, JSON.stringify({ token: TOKEN, lines }));
  else localStorage.removeItem(CART_KEY);
}

function savedCart() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(CART_KEY));
  } catch {
    return [];
  }
  if (saved?.token !== TOKEN || !Array.isArray(saved.lines)) return [];
  return saved.lines.flatMap((l) => {
    const dish = dishById(l.dish);
    if (!dish) return [];
    // A choice no longer on the menu falls back to the option's default.
    const options = Object.fromEntries(dish.options.map((o) => [o.id,
      o.choices.some((c) => c.id === l.options?.[o.id]) ? l.options[o.id] : o.default]));
    const quantity = Math.min(20, Math.max(1, Number(l.quantity) || 1));
    return [{ dish, options, quantity, note: String(l.note ?? '') }];
  });
}

function renderCart() {
  saveCart();
  const count = state.cart.reduce((n, l) => n + l.quantity, 0);
  const total = state.cart.reduce((n, l) => n + lineUnit(l) * l.quantity, 0);
  $('#cart-bar').hidden = count === 0;
  $('#cart-count').textContent = String(count);
  $('#cart-total').textContent = money(total);
  $('#cart-sheet-total').textContent = money(total);
  const list = $('#cart-lines');
  list.replaceChildren();
  state.cart.forEach((line, i) => {
    const opts = line.dish.options.map((o) =>
      name(o.choices.find((c) => c.id === line.options[o.id]).name)).join(', ');
    const step = (d) => () => {
      line.quantity += d;
      if (line.quantity < 1) state.cart.splice(i, 1);
      line.quantity = Math.min(line.quantity, 20);
      state.pendingKey = null;
      renderCart();
    };
    list.append(el('li', { class: 'cart-line' },
      el('div', {}, el('strong', {}, name(line.dish.name)),
        opts ? el('small', {}, opts) : null, line.note ? el('small', {}, `“${line.note}”`) : null),
      el('div', { class: 'qty' },
        el('button', {
          type: 'button', onclick: step(-1),
          'aria-label': line.quantity > 1 ? stepLabel('fewer', line.dish.name) : t('remove'),
        }, '−'),
        el('output', {}, String(line.quantity)),
        el('button', { type: 'button', onclick: step(1), 'aria-label': stepLabel('more', line.dish.name) }, '+')),
      el('span', { class: 'price' }, money(lineUnit(line) * line.quantity))));
  });
  if (!state.cart.length) list.append(el('li', { class: 'empty' }, t('empty_cart')));
  $('#place-order').disabled = !state.cart.length;
}

async function placeOrder() {
  const button = $('#place-order');
  button.disabled = true;
  button.textContent = t('placing');
  state.pendingKey ??= newKey();
  const body = {
    items: state.cart.map((l) => ({
      dish_id: l.dish.id, quantity: l.quantity, options: l.options, note: l.note,
    })),
  };
  try {
    const order = await api('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': state.pendingKey },
      body: JSON.stringify(body),
    });
    state.cart = [];
    state.pendingKey = null;
    $('#cart-sheet').close();
    toast(t('ordered'));
    showOrder(order);
    showStatusPanel();
    // Focus went back to the cart bar, hidden now the cart is empty: it would be lost.
    $('#orders-title').focus({ preventScroll: true });
  } catch (err) {
    // 4xx: the order as it stands is refused (new key next time); otherwise retry same key.
    if (err.status && err.status < 500) {
      state.pendingKey = null;
      toast(refusal(err, state.cart), 6000);
      // The refusal named the dish: the menu's own "sold out" notice would replace it.
      if (err.status === 422) loadMenu({ quiet: true });
    } else {
      toast(t('retry'), 6000);
    }
  } finally {
    button.textContent = t('place_order');
    renderCart();
  }
}

// ---- orders and live status -------------------------------------------------------------

function statusText(order) {
  // Nobody took it at the table: it is back at the kitchen until sent again.
  if (order.returned && order.status === 'ready') return t('returned');
  const text = t('status')[order.status] || order.status;
  return text.replace('{cooked}', order.jobs_cooked ?? 0)
    .replace('{total}', order.jobs_total ?? order.lines.reduce((n, l) => n + l.quantity, 0));
}

// Until the food is at the table: "about 9 minutes", counted down from when the server said.
const ETA_SHOWN = new Set(['received', 'cooking', 'ready', 'delivering']);

function etaText(order) {
  if (!ETA_SHOWN.has(order.status) || order.eta_s == null) return '';
  const left = order.eta_s - (Date.now() - order.eta_seen) / 1000;
  const min = Math.round(left / 60);
  return min >= 1 ? t('eta').replace('{min}', min) : t('eta_soon');
}

const orderItems = (order) => order.lines.map((l) => `${name(l.name)} ×${l.quantity}`).join(', ');

function renderOrders() {
  const list = $('#order-list');
  list.replaceChildren();
  const orders = [...state.orders.values()].sort((a, b) => b.created_at - a.created_at);
  $('#orders').hidden = !orders.length;
  for (const o of orders) {
    const items = orderItems(o);
    list.append(el('li', { class: `order status-${o.status}`, 'data-order': o.id, 'data-status': o.status },
      el('div', { class: 'order-head' },
        el('span', { class: 'badge', 'data-testid': 'order-status' }, statusText(o)),
        el('span', { class: 'price' }, money(o.total))),
      el('p', { class: 'items' }, items),
      etaText(o) ? el('p', { class: 'eta', 'data-testid': 'order-eta' }, etaText(o)) : null,
      o.status === 'arrived' ? el('button', {
        type: 'button', class: 'primary', 'data-testid': 'picked-up',
        onclick: (e) => orderAction(o.id, 'pickup', e.target),
      }, t('picked_up')) : null,
      o.returned && o.status === 'ready' ? el('button', {
        type: 'button', class: 'primary', 'data-testid': 'bring-again',
        onclick: (e) => orderAction(o.id, 'redeliver', e.target),
      }, t('bring_again')) : null,
      // Until a robot takes one of its dishes (the server has the last word: 409 after).
      o.status === 'received' ? el('button', {
        type: 'button', class: 'quiet', 'data-testid': 'cancel-order',
        onclick: (e) => confirm(t('cancel_confirm')) && orderAction(o.id, 'cancel', e.target),
      }, t('cancel_order')) : null));
  }
}

const REDUCED_MOTION = matchMedia('(prefers-reduced-motion: reduce)');

function showStatusPanel() {
  const behavior = REDUCED_MOTION.matches ? 'instant' : 'smooth';
  $('#orders').scrollIntoView({ behavior, block: 'start' });
}

// Order reads overlap (the live stream, the poll, a slow network): an answer asked
// for before what the page shows of the order (an answer or a live event) is dropped, so a
// late answer never takes a status back.
let orderReads = 0;

function showOrder(order, asked = ++orderReads) {
  const known = state.orders.get(order.id);
  if (known && asked < known.asked) return;
  const shown = { ...known, ...order, asked, eta_seen: Date.now() };
  state.orders.set(order.id, shown);
  renderOrders();
  // The cards are redrawn whole: a screen reader hears what changed from this live region
  // (an order the page has just learnt of is on the list, not news).
  if (known && statusText(known) !== statusText(shown)) {
    $('#order-news').textContent = `${orderItems(shown)}: ${statusText(shown)}`;
  }
}

// One stream for the whole visit (two connections a phone with the menu's: browsers allow ~6
// per host): every order each time it changes, the ones the table's other phones place
// included. A reconnected stream starts with every order again.
function followVisit() {
  const source = new EventSource(`${API}/orders/events`);
  source.onmessage = (msg) => {
    const { order } = JSON.parse(msg.data);
    const before = state.orders.get(order.id)?.status;
    showOrder(order);
    // The robot is at the table: the one moment the diner has to act.
    if (order.status === 'arrived' && before !== 'arrived') {
      showStatusPanel();
      navigator.vibrate?.(300);
    }
  };
}

async function refreshOrders() {
  try {
    const asked = ++orderReads;
    for (const order of await api('/orders')) showOrder(order, asked);
  } catch (err) {
    console.warn('orders refresh failed', err);
  }
}

// The diner's answer to a robot at the table (pickup) or to food it took back (redeliver), or
// a cancel. A refusal is most often another phone of the table having done it a moment before:
// the orders are read again, so that the page shows where the order stands now.
async function orderAction(id, action, button) {
  button.disabled = true;
  try {
    await api(`/orders/${id}/${action}`, { method: 'POST' });
    if (action === 'cancel') toast(t('order_cancelled'), 3000);
  } catch (err) {
    toast(refusal(err), 5000);
    button.disabled = false;
    if (err.status === 409) refreshOrders();
  }
}

// ---- the bill: split and pay (a separate part of the page, see the Bill tab) -------------

const BILL_POLL_MS = 4000;

function showTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll('[data-tab]')) {
    b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    b.tabIndex = b.dataset.tab === tab ? 0 : -1;
  }
  $('#tab-menu').hidden = tab !== 'menu';
  $('#tab-bill').hidden = tab !== 'bill';
  clearInterval(state.billTimer);
  if (tab === 'bill') {
    loadBill();
    state.billTimer = setInterval(loadBill, BILL_POLL_MS);
  }
}

async function loadBill() {
  try {
    state.bill = await api('/bill');
    renderBill();
  } catch (err) {
    toast(refusal(err), 6000);
  }
}

function shareLabel(share) {
  const b = state.bill;
  if (share.kind === 'whole') return t('share_whole');
  if (share.kind === 'rest') return t('share_rest');
  if (share.kind === 'even') return `${t('share_even')} ${share.id.slice(1)}/${b.split.ways}`;
  if (share.kind === 'amount') return t('share_amount');
  const names = share.items.map((i) => {
    const ln = b.lines.find((l) => l.key === i.line);
    return ln ? `${name(ln.name)} ×${i.units}` : i.line;
  });
  return `${t('share_items')}: ${names.join(', ')}`;
}

// A bill line's options as the menu names them in the diner's language (their ids for a dish
// no longer on the menu).
function choiceNames(dishId, options) {
  return I18n.options(dishById(dishId), Object.entries(options), name).map(([, c]) => c).join(', ');
}

function renderBill() {
  const b = state.bill;
  if (!b || !state.menu) return;
  $('#bill-empty').hidden = b.lines.length > 0;
  $('#bill-lines').replaceChildren(...b.lines.map((ln) => {
    const reason = ln.reason && (t('zero_reason')[ln.key.match(/-x(\w+)$/)?.[1]] || ln.reason);
    return el('li', { class: ln.reason ? 'zero' : '', 'data-line': ln.key },
      el('span', { class: 'name' }, `${name(ln.name)} ×${ln.quantity}`),
      el('span', { class: 'amount' }, money(ln.amount)),
      el('small', {}, [money(ln.unit_price), choiceNames(ln.dish_id, ln.options),
        reason && t('not_charged').replace('{reason}', reason)].filter(Boolean).join(' · ')));
  }));
  const rows = [[t('subtotal'), b.subtotal]];
  for (const part of [b.service_charge, b.tax]) {
    if (part.percent) {
      rows.push([`${part.name} ${part.percent}%${part.inclusive ? ` (${t('included')})` : ''}`, part.amount]);
    }
  }
  rows.push([t('total'), b.total]);
  if (b.paid) rows.push([t('paid_total'), b.paid]);
  $('#bill-sums').replaceChildren(...rows.map(([label, amount], i) => el('tr',
    { class: i === rows.length - (b.paid ? 2 : 1) ? 'total' : '' },
    el('td', {}, label), el('td', { 'data-testid': i === rows.length - (b.paid ? 2 : 1) ? 'bill-total' : null }, money(amount)))));
  // Paid, then an order cancelled (a phone may cancel what no robot has started): say so.
  $('#overpaid').hidden = !b.overpaid;
  $('#overpaid').textContent = b.overpaid ? t('overpaid').replace('{amount}', money(b.overpaid)) : '';
  const open = b.writable && b.session && b.lines.length;
  $('#split').hidden = !open;
  $('#shares').replaceChildren(...b.shares.map((share) => {
    const mine = share.status === 'open' && open;
    return el('li', { class: `share ${share.status}`, 'data-share': share.id, 'data-status': share.status },
      el('span', {}, shareLabel(share)),
      el('span', { class: 'amount' }, money(share.amount)),
      el('span', { class: 'state' }, t('share_status')[share.status] || share.status),
      share.declined ? el('p', { class: 'declined' }, `${t('declined')}: ${declineReason(share.declined)}`) : null,
      mine ? el('button', {
        type: 'button', class: 'primary', 'data-testid': 'pay-share', 'data-share': share.id,
        onclick: (e) => payShare(share.id, e.target),
      }, `${t('pay')} ${money(share.amount)}`) : null);
  }));
  $('#receipt').href = `${API}/receipt?lang=${state.lang}`;
  renderClaim();
}

// What nobody has claimed yet: the open rest (or whole) share, if any.
function openRest() {
  return state.bill.shares.find((s) => (s.kind === 'rest' || s.kind === 'whole') && s.status === 'open');
}

function claimable() {
  // Units of each line nobody has claimed yet (the rest share's units).
  return openRest()?.items || [];
}

function renderClaim() {
  const list = $('#claim-lines');
  const items = claimable();
  list.replaceChildren(...items.map((item) => {
    const ln = state.bill.lines.find((l) => l.key === item.line);
    const chosen = state.claim.get(item.line) || 0;
    const step = (d) => () => {
      state.claim.set(item.line, Math.max(0, Math.min(item.units, chosen + d)));
      renderClaim();
    };
    return el('li', { 'data-claim': item.line },
      el('span', {}, `${name(ln.name)} (${chosen}/${item.units})`),
      el('span', { class: 'qty' },
        el('button', { type: 'button', onclick: step(-1), 'aria-label': stepLabel('fewer', ln.name) }, '−'),
        el('output', {}, String(chosen)),
        el('button', {
          type: 'button', onclick: step(1), 'aria-label': stepLabel('more', ln.name), 'data-testid': 'claim-plus',
        }, '+')));
  }));
  $('#claim-go').disabled = ![...state.claim.values()].some((n) => n > 0);
  renderPutIn();
}

// An amount typed in the currency's major units, in minor units (NaN if not a number). A
// fraction of the minor unit (1000.5 won) is no amount: rounded, the share was not what the
// diner typed (the field's step is the minor unit, renderPutIn).
function typedAmount() {
  const input = $('#put-in-amount');
  const typed = input.value.trim();
  if (!typed || input.validity.stepMismatch) return NaN;
  return Math.round(Number(typed) * 10 ** state.menu.restaurant.currency_decimals);
}

function renderPutIn() {
  const left = openRest()?.amount || 0;
  const decimals = state.menu.restaurant.currency_decimals;
  $('#put-in-hint').textContent = t('amount_hint').replace('{left}', money(left));
  $('#put-in-amount').max = String(left / 10 ** decimals);
  $('#put-in-amount').step = String(1 / 10 ** decimals);
  const amount = typedAmount();
  $('#put-in-go').disabled = !(amount >= 1 && amount <= left);
}

async function split(mode) {
  if (mode === 'items' || mode === 'amount') {
    const form = mode === 'items' ? $('#claim') : $('#put-in');
    form.hidden = !form.hidden;
    (mode === 'items' ? $('#put-in') : $('#claim')).hidden = true;
    state.claim = new Map();
    $('#put-in-amount').value = '';
    renderClaim();
    return;
  }
  const body = mode === 'even' ? { mode, ways: Number($('#ways').value) } : { mode };
  try {
    state.bill = await api('/bill/split', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    renderBill();
  } catch (err) {
    toast(refusal(err), 6000);
  }
}

// A share of my own: the dishes I choose, or an amount I put in towards what nobody claimed.
async function claimShare(body, form) {
  try {
    state.bill = await api('/bill/split', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    state.claim = new Map();
    form.hidden = true;
    renderBill();
    document.querySelector(`[data-share="${CSS.escape(state.bill.share_id)}"]`)?.scrollIntoView({ block: 'center' });
  } catch (err) {
    toast(refusal(err), 6000);
  }
}

async function payShare(shareId, button) {
  button.disabled = true;
  if (!state.payKeys.has(shareId)) state.payKeys.set(shareId, newKey());
  try {
    const payment = await api('/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': state.payKeys.get(shareId) },
      body: JSON.stringify({ share_id: shareId }),
    });
    state.payKeys.delete(shareId);
    if (payment.status === 'pending' && payment.checkout_url) location.href = payment.checkout_url;
    else loadBill();
  } catch (err) {
    if (err.status && err.status < 500) state.payKeys.delete(shareId);
    toast(refusal(err), 6000);
    button.disabled = false;
    loadBill();
  }
}

// A provider's reason for a declined payment in the diner's language when it is one the
// page knows (payments.DECLINE_REASONS), else as the provider gave it.
function declineReason(reason) {
  return t('decline_reasons')[reason] || reason;
}

async function returnedFromPayment() {
  const id = new URLSearchParams(location.search).get('payment');
  if (!id) return;
  history.replaceState(null, '', location.pathname + location.hash);
  try {
    const p = await api(`/payments/${encodeURIComponent(id)}`);
    toast(p.status === 'paid' ? t('payment_ok') : `${t('declined')}: ${declineReason(p.reason || p.status)}`, 6000);
  } catch (err) {
    console.warn('payment lookup failed', err);
  }
}

async function callStaff(reason) {
  $('#staff-sheet').close();
  try {
    await api('/staff-calls', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason }),
    });
    toast(t('called'), 5000);
  } catch (err) {
    toast(refusal(err), 6000);
  }
}

// ---- party size ------------------------------------------------------------------------
// Asked once a visit (a party seated by QR counted one cover in the day's report), above the
// menu and never in its way: answered or skipped, this visit's code is not asked again, and
// not at all once another phone or the staff gave the size.
const PARTY_KEY = 'robodine.party';

// Where the question stands, on `#party` (data-state): asking, answered, skipped, or not asked
// (`known`: this visit's code was asked already, or the size is known).
function partyState(value) { $('#party').dataset.state = value; }

// The visit: the table's name in every language (the page was drawn in the browser's, and the
// diner may have picked another), then the party question.
async function loadVisit() {
  const visit = await api('/visit');
  state.tableName = visit.table.name;
  $('#table-name').textContent = name(state.tableName);
  await askPartySize(visit);
}

function askPartySize(visit) {
  if (localStorage.getItem(PARTY_KEY) === TOKEN) return partyState('known');
  if (!visit.writable || visit.session?.party_size) return partyState('known');
  state.partySeats = visit.table.seats;
  renderParty();
  return partyState('asking');
}

function renderParty() {
  $('#party').hidden = !state.partySeats;
  const sizes = Array.from({ length: state.partySeats }, (_, i) => i + 1);
  $('#party-sizes').replaceChildren(...sizes.map((n) => el('button', {
    type: 'button', 'data-party': n, 'aria-label': t('party_people').replace('{n}', n),
    onclick: () => setPartySize(n),
  }, `${n}`)));
}

function partyDone(how) {
  localStorage.setItem(PARTY_KEY, TOKEN);
  partyState(how);
  const hadFocus = $('#party').contains(document.activeElement);
  state.partySeats = 0;
  renderParty();
  // The question goes from under the diner's finger: the menu is next.
  if (hadFocus) document.querySelector('#categories a, button.dish')?.focus();
}

async function setPartySize(n) {
  try {
    await api('/party', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ size: n }),
    });
    partyDone('answered');
    toast(t('party_thanks').replace('{n}', n), 5000);
  } catch (err) {
    toast(refusal(err), 6000);
  }
}

function startBill() {
  $('#ways').replaceChildren(...[2, 3, 4, 5, 6, 8].map((n) => el('option', { value: n }, `${n}`)));
  for (const b of document.querySelectorAll('[data-split]')) {
    b.addEventListener('click', () => split(b.dataset.split));
  }
  $('#claim-go').addEventListener('click', () => claimShare({
    mode: 'items',
    items: [...state.claim].filter(([, n]) => n > 0).map(([line, units]) => ({ line, units })),
  }, $('#claim')));
  $('#put-in-amount').addEventListener('input', renderPutIn);
  $('#put-in-go').addEventListener('click', () => claimShare(
    { mode: 'amount', amount: typedAmount() }, $('#put-in')));
  $('#call-staff').addEventListener('click', () => $('#staff-sheet').showModal());
  for (const b of document.querySelectorAll('[data-reason]')) {
    b.addEventListener('click', () => callStaff(b.dataset.reason));
  }
  if (location.hash === '#bill') showTab('bill');
  returnedFromPayment();
}

// ---- language and start ----------------------------------------------------------------

function applyLanguage(lang) {
  state.lang = I18n.LANGS.includes(lang) ? lang : 'en';
  localStorage.setItem('robodine.lang', state.lang);
  document.documentElement.lang = state.lang;
  showConnection();
  for (const b of document.querySelectorAll('[data-set-lang]')) {
    b.setAttribute('aria-pressed', String(b.dataset.setLang === state.lang));
  }
  I18n.mark(document, t);
  if (state.tableName) $('#table-name').textContent = name(state.tableName);
  if (!state.menu) return;
  $('#restaurant').textContent = name(state.menu.restaurant.name);
  document.title = name(state.menu.restaurant.name);
  renderMenu();
  renderCart();
  renderOrders();
  renderBill();
  renderParty();
}

// Reloads overlap when changes come close together: only the newest request's answer is
// shown, so a slow answer read before a change (a dish 86'd) never hides it.
let menuLoads = 0;
let menuText = null; // the menu as last drawn, as the API sent it

async function loadMenu({ quiet = false } = {}) {
  const load = ++menuLoads;
  const res = await fetch('/api/menu');
  if (!res.ok) throw new Error(`menu: ${res.status}`);
  const text = await res.text();
  // The same menu as shown (the live stream's first message repeats the state the page has
  // just loaded): redrawing it would replace the buttons under a diner's finger.
  if (load !== menuLoads || text === menuText) return;
  menuText = text;
  const menu = JSON.parse(text);
  const first = state.menu === null;
  state.menu = menu;
  if (first) state.cart = savedCart();
  // Cart lines keep pointing at the freshest dish data (price, availability).
  const before = state.cart.length;
  state.cart = state.cart.filter((l) => dishById(l.dish.id)?.available)
    .map((l) => ({ ...l, dish: dishById(l.dish.id) }));
  if (state.cart.length < before && !quiet) toast(t('sold_out'), 5000);
  applyLanguage(state.lang);
}

function followMenu() {
  // The kitchen 86es dishes and changes prices during service: every change (and the state
  // at connection time) reloads the menu, so nobody orders what has just sold out.
  const source = new EventSource('/api/menu/events');
  source.onmessage = () => loadMenu().catch((err) => console.warn('menu refresh failed', err));
}

// Without network the page said nothing until a tap failed, and showed the last statuses as
// if live. Back online, the orders (and the bill) are read at once, not at the next poll.
function showConnection() {
  $('#offline').textContent = navigator.onLine ? '' : t('offline');
}

function followConnection() {
  addEventListener('offline', showConnection);
  addEventListener('online', () => {
    showConnection();
    refreshOrders();
    if (state.tab === 'bill') loadBill();
  });
}

// The header sticks while it and the categories under it take at most a third of the screen;
// with the browser's text at 200 % or a phone on its side they took half of it, and the cart
// bar most of the rest.
function stickUnderHeader() {
  const header = $('header.top');
  const categories = $('#categories');
  const measure = () => {
    const sticks = header.offsetHeight + categories.offsetHeight <= innerHeight / 3;
    header.classList.toggle('scrolls', !sticks);
    document.documentElement.style.setProperty(
      '--header-height', `${sticks ? header.offsetHeight : 0}px`);
  };
  const observer = new ResizeObserver(measure);
  observer.observe(header);
  observer.observe(categories);
  addEventListener('resize', measure);
}

// Room the cart bar takes at the bottom of the screen (none while the cart is empty).
function measureCartBar() {
  const bar = $('#cart-bar');
  new ResizeObserver(() => {
    document.documentElement.style.setProperty(
      '--cart-room', `${bar.offsetHeight ? bar.offsetHeight + 16 : 0}px`);
  }).observe(bar);
}

// The page's first reads, again until they succeed (a weak signal, a server restarting): one
// lost on the way left the page at "Loading the menu…" for good.
async function untilLoaded(load) {
  for (let wait = 1000; ; wait = Math.min(2 * wait, 15000)) {
    try {
      return await load();
    } catch (err) {
      console.warn('loading failed, trying again', err);
      if (state.i18n) toast(t('retry'), wait);
      await new Promise((resolve) => { setTimeout(resolve, wait); });
    }
  }
}

async function start() {
  stickUnderHeader();
  measureCartBar();
  // The tabs answer at once: a diner may tap "Bill" while the menu is still loading (the bill
  // renders once it has).
  for (const b of document.querySelectorAll('[data-tab]')) {
    b.addEventListener('click', () => showTab(b.dataset.tab));
  }
  // A tablist as screen readers announce it: one Tab stop, the arrows move between the tabs.
  $('[role=tablist]').addEventListener('keydown', (e) => {
    const tabs = [...document.querySelectorAll('[role=tab]')];
    const at = tabs.indexOf(document.activeElement);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: -1 }[e.key];
    if (at < 0 || to === undefined) return;
    e.preventDefault();
    const tab = tabs.at(to % tabs.length);
    showTab(tab.dataset.tab);
    tab.focus();
  });
  state.i18n = await untilLoaded(() => I18n.load());
  applyLanguage(state.lang);
  await untilLoaded(loadMenu);
  followMenu();
  followVisit();
  followConnection();
  refreshOrders();
  setInterval(refreshOrders, POLL_MS);
  for (const b of document.querySelectorAll('[data-set-lang]')) {
    b.addEventListener('click', () => applyLanguage(b.dataset.setLang));
  }
  $('#qty-minus').addEventListener('click', () => {
    state.sheet.quantity = Math.max(1, state.sheet.quantity - 1);
    refreshSheet();
  });
  $('#qty-plus').addEventListener('click', () => {
    state.sheet.quantity = Math.min(20, state.sheet.quantity + 1);
    refreshSheet();
  });
  $('#dish-form').addEventListener('submit', (e) => {
    if (e.submitter?.value === 'add') addFromSheet();
  });
  // The dialog gives focus back to the button that opened it; a menu change redraws the menu
  // meanwhile, and focus fell to the body: the dish's button as drawn now takes it.
  $('#dish-sheet').addEventListener('close', (e) => {
    const at = document.activeElement;
    if (at !== document.body && !e.target.contains(at)) return;
    document.querySelector(`button.dish[data-dish="${CSS.escape(state.sheet.dish.id)}"]`)?.focus();
  });
  $('#cart-bar').addEventListener('click', () => $('#cart-sheet').showModal());
  // Not submit buttons: Enter in the options picker submits its form with the first one.
  for (const b of document.querySelectorAll('.sheet .close')) {
    b.addEventListener('click', () => b.closest('dialog').close());
  }
  $('#place-order').addEventListener('click', placeOrder);
  $('#party-skip').addEventListener('click', () => partyDone('skipped'));
  startBill();
  // Asked before the page is ready: the question appearing above the menu later shifted it
  // under the diner's finger (and its scroll). Never in the way: a failure only skips it.
  await loadVisit().catch((err) => console.warn('visit not read: party size not asked', err));
  document.body.dataset.ready = 'true';
}

start().catch((err) => {
  console.error(err);
  toast(t('retry'), 10000);
});
