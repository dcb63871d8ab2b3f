// The console's Stock and Reports views (orchestrator/console/kitchen_data.py). Loaded after
// console.js, whose helpers it uses (call, act, actions, toast, t, code, said, named, el, clock,
// $); each view fetches its own data while it is shown, and is drawn again in another language.
'use strict';

const STOCK_POLL_MS = 3000;
const kitchenView = { stock: null, prep: null, report: null, timer: null };
state.redraw.push(() => {
  if (kitchenView.stock) renderStock(true);
  if (kitchenView.prep) renderPrep();
  if (kitchenView.report) renderReport();
});

// 2.5 kg, 300 g, 4 pc: in the language's digits.
function amountText(n, unit) {
  if (unit === 'g' && Math.abs(n) >= 1000) return `${number(n / 1000)} kg`;
  if (unit === 'ml' && Math.abs(n) >= 1000) return `${number(n / 1000)} l`;
  return `${number(n)} ${unit}`;
}

async function loadStock() {
  const newest = newestLoad('stock');
  let stock;
  try {
    stock = await call('GET', '/stock');
  } catch (e) {
    if (newest()) toast(t('toast.stock_failed', { reason: refusal(e) }), 'error');
    return;
  }
  if (!newest()) return;
  kitchenView.stock = stock;
  renderStock();
}

async function loadPrep() {
  const newest = newestLoad('prep');
  let prep;
  try {
    prep = await call('GET', '/prep');
  } catch (e) {
    prep = { error: refusal(e) };
  }
  if (!newest()) return;
  kitchenView.prep = prep;
  renderPrep();
}

function ingredientOf(id) {
  return kitchenView.stock?.ingredients.find((i) => i.id === id);
}

function ingredientName(id) {
  const ing = ingredientOf(id);
  return ing ? named(ing.name) : id;
}

function itemsText(items) {
  return Object.entries(items).map(([i, a]) =>
    `${ingredientName(i)} ${a > 0 ? '+' : ''}${amountText(a, ingredientOf(i)?.unit ?? '')}`).join(', ');
}

// `again`: the same data in another language (the rows are made anew, the typing is lost).
function renderStock(again = false) {
  const s = kitchenView.stock;
  const low = s.ingredients.filter((i) => i.low);
  const badge = $('low-count');
  badge.hidden = !low.length;
  badge.textContent = number(low.length);
  $('stock-alerts').replaceChildren(...[
    ...(low.length ? low.map((i) => el('li', { class: 'low', 'data-low': i.id },
      t('stock.low', { name: named(i.name), level: amountText(i.level, i.unit), at: amountText(i.low_stock, i.unit) })))
      : [el('li', { class: 'muted' }, t('stock.none_low'))]),
    s.auto_out.length ? el('li', { class: 'low' }, t('stock.auto_out', { dishes: s.auto_out.map(dishName).join(', ') })) : null,
  ].filter(Boolean));
  const rows = $('stock-levels');
  const shown = [...rows.querySelectorAll('[data-ingredient]')].map((r) => r.dataset.ingredient);
  if (!again && shown.join() === s.ingredients.map((i) => i.id).join()) {
    // Polled: change the levels only, so that what the operator is typing stays.
    for (const i of s.ingredients) {
      const row = rows.querySelector(`[data-ingredient="${CSS.escape(i.id)}"]`);
      row.className = i.low ? 'low' : '';
      row.querySelector('.level').textContent = amountText(i.level, i.unit);
    }
  } else {
    rows.replaceChildren(...s.ingredients.map((i) => el('tr', { class: i.low ? 'low' : '', 'data-ingredient': i.id },
      el('td', {}, named(i.name)), el('td', { class: 'level' }, amountText(i.level, i.unit)),
      el('td', {}, amountText(i.low_stock, i.unit)), el('td', {}, amountText(i.par, i.unit)),
      el('td', { class: 'muted' }, i.dishes.map(dishName).join(', ')),
      el('td', {},
        el('input', {
          size: '7', 'data-amount-of': i.id, 'aria-label': t('stock.amount_of', { name: named(i.name) }),
          placeholder: t('stock.amount_hint', { unit: i.unit === 'g' ? 'kg' : i.unit === 'ml' ? 'l' : 'pc' }),
        }), ' ',
        el('input', {
          size: '12', 'data-why-of': i.id, 'aria-label': t('stock.why_for', { name: named(i.name) }),
          placeholder: t('stock.why_hint'),
        }),
        control('restock', { ingredient: i.id }, t('stock.restock')),
        control('count', { ingredient: i.id }, t('stock.count'))))));
  }
  // Who did it and why, as they wrote it (the kitchen's own reason for food a cancel freed or
  // wasted, in the language).
  const byKitchen = (m) => m.kind === 'waste' || m.kind === 'return';
  const moveRow = (m) => el('tr', {}, el('td', {}, clock(m.at)), el('td', { 'data-kind': m.kind }, code('stock.kinds', m.kind)),
    el('td', {}, itemsText(m.items)), el('td', {}, m.dish_id ? dishName(m.dish_id) : ''), el('td', {}, m.order_id),
    el('td', {}, m.by), el('td', {}, byKitchen(m) ? code('stock.whys', m.why) : m.why));
  $('stock-waste').replaceChildren(...(s.waste.length ? s.waste.map(moveRow)
    : [el('tr', {}, el('td', { colspan: '7', class: 'muted' }, t('stock.no_waste')))]));
  $('stock-moves').replaceChildren(...s.moves.map(moveRow));
}

function renderPrep() {
  const p = kitchenView.prep;
  const box = $('prep');
  if (!p || p.error) {
    box.replaceChildren(el('p', { class: 'muted' }, p ? t('stock.prep_failed', { reason: p.error }) : t('stock.prep_none')));
    return;
  }
  const head = ['ingredient', 'need', 'in_stock', 'to_prep'].map((k) => el('th', {}, t(`stock.prep_columns.${k}`)));
  box.replaceChildren(
    el('h3', {}, t('stock.prep_title', { day: dayName(p.date) })),
    el('p', { class: 'muted' }, said(p.accuracy_said, p.accuracy_args, p.accuracy)),
    el('table', { class: 'report-table' }, el('thead', {}, el('tr', {}, head)),
      el('tbody', {}, p.lines.length ? p.lines.map((l) => el('tr', { class: l.to_prep ? 'low' : '' },
        el('td', {}, ingredientName(l.ingredient)), el('td', {}, amountText(l.need, l.unit)),
        el('td', {}, amountText(l.in_stock, l.unit)), el('td', {}, l.to_prep ? amountText(l.to_prep, l.unit) : '—')))
        : el('tr', {}, el('td', { colspan: '4', class: 'muted' }, t('stock.no_history'))))));
}

function stockInputs(id) {
  const raw = document.querySelector(`[data-amount-of="${CSS.escape(id)}"]`).value.trim();
  const why = document.querySelector(`[data-why-of="${CSS.escape(id)}"]`).value.trim();
  // A bare number is in the ingredient's unit; "2 kg" is parsed by the server.
  return { amount: /^\d+$/.test(raw) ? Number(raw) : raw, why };
}

// ---- Reports: a day's report from the archive, drawn with charts.js ----

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// What charts.js writes, in the operator's language: titles and notes by their keys, columns
// and codes in the rows by their names (a station, a dish, a robot's kind).
const reportTexts = {
  title: (s) => said(`reports.titles.${s.id}`, s.title_args, s.title),
  note: (s) => said(s.note_said, s.note_args, s.note),
  column: (name) => {
    const station = state.snap?.stations.find((s) => s.id === name);
    return station ? named(station.name) : code('reports.columns', name);
  },
  cell: (column, value) => {
    if (value === null || value === undefined) return '—';
    if (column === 'station') return reportTexts.column(value);
    if (column === 'dish') return dishName(value);
    if (column === 'ingredient') return ingredientName(value);
    if (column === 'kind') return code('robot_kinds', value);
    if (column === 'change') return code('reports.changes', value);
    if (typeof value === 'number') return number(value);
    return String(value);
  },
  text: (key) => t(`reports.${key}`),
};

async function loadReport() {
  const input = $('report-date');
  if (!input.value) input.value = today();
  const day = input.value;
  const box = $('report');
  const newest = newestLoad('report');
  box.setAttribute('aria-busy', 'true');
  try {
    const report = await call('GET', `/reports/${day}`);
    if (newest()) {
      kitchenView.report = { report };
      renderReport();
    }
  } catch (e) {
    if (newest()) {
      kitchenView.report = { error: refusal(e) };
      renderReport();
    }
  } finally {
    if (newest()) box.removeAttribute('aria-busy');
  }
}

function renderReport() {
  const { report, error } = kitchenView.report;
  const box = $('report');
  if (error) {
    box.textContent = t('reports.unavailable', { reason: error });
    return;
  }
  RobodineCharts.render(box, report, (s) => `${API}/reports/${report.date}/${s.id}.csv`, reportTexts);
}

Object.assign(actions, {
  restock: (d) => {
    const { amount, why } = stockInputs(d.ingredient);
    return act(t('confirm.restock', { amount: typeof amount === 'number' ? amountText(amount, ingredientOf(d.ingredient).unit) : amount,
      name: ingredientName(d.ingredient) }), 'POST', `/stock/${d.ingredient}/restock`, { amount, why }).then(loadStock);
  },
  count: (d) => {
    const { amount, why } = stockInputs(d.ingredient);
    return act(t('confirm.count', { amount: typeof amount === 'number' ? amountText(amount, ingredientOf(d.ingredient).unit) : amount,
      name: ingredientName(d.ingredient) }), 'POST', `/stock/${d.ingredient}/count`, { level: amount, why }).then(loadStock);
  },
  'show-report': () => loadReport(),
});

document.addEventListener('click', (ev) => {
  const tab = ev.target.closest('[data-tab]');
  if (!tab) return;
  clearInterval(kitchenView.timer);
  if (tab.dataset.tab === 'stock') {
    loadStock();
    loadPrep();
    kitchenView.timer = setInterval(loadStock, STOCK_POLL_MS);
  } else if (tab.dataset.tab === 'reports') {
    loadReport();
  }
});
