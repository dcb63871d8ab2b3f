// The console's Stock and Reports views (orchestrator/console/kitchen_data.py). Loaded after
// console.js, whose helpers it uses (call, act, actions, toast, esc, clock, $); each view
// fetches its own data while it is shown.
'use strict';

const STOCK_POLL_MS = 3000;
const kitchenView = { stock: null, prep: null, timer: null };

function amountText(n, unit) {
  if (unit === 'g' && Math.abs(n) >= 1000) return `${(n / 1000).toLocaleString()} kg`;
  if (unit === 'ml' && Math.abs(n) >= 1000) return `${(n / 1000).toLocaleString()} l`;
  return `${n.toLocaleString()} ${unit}`;
}

async function loadStock() {
  const newest = newestLoad('stock');
  let stock;
  try {
    stock = await call('GET', '/stock');
  } catch (e) {
    if (newest()) toast(`Stock: ${e.message}`, 'error');
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
    prep = { error: e.message };
  }
  if (!newest()) return;
  kitchenView.prep = prep;
  renderPrep();
}

function unitOf(id) {
  const ing = kitchenView.stock.ingredients.find((i) => i.id === id);
  return ing ? ing.unit : '';
}

function itemsText(items) {
  return Object.entries(items).map(([i, a]) => `${esc(i)} ${a > 0 ? '+' : ''}${esc(amountText(a, unitOf(i)))}`).join(', ');
}

function renderStock() {
  const s = kitchenView.stock;
  const low = s.ingredients.filter((i) => i.low);
  const badge = $('low-count');
  badge.hidden = !low.length;
  badge.textContent = String(low.length);
  $('stock-alerts').innerHTML = (low.length ? low.map((i) => `<li class="low" data-low="${esc(i.id)}">Low: <b>${esc(i.name)}</b>
    ${esc(amountText(i.level, i.unit))} left (alert at ${esc(amountText(i.low_stock, i.unit))})</li>`).join('') : '<li class="muted">No ingredient is low.</li>')
    + (s.auto_out.length ? `<li class="low">Sold out by stock: ${s.auto_out.map(esc).join(', ')}</li>` : '');
  const rows = $('stock-levels');
  const shown = [...rows.querySelectorAll('[data-ingredient]')].map((r) => r.dataset.ingredient);
  if (shown.join() === s.ingredients.map((i) => i.id).join()) {
    // Polled: change the levels only, so that what the operator is typing stays.
    for (const i of s.ingredients) {
      const row = rows.querySelector(`[data-ingredient="${CSS.escape(i.id)}"]`);
      row.className = i.low ? 'low' : '';
      row.querySelector('.level').textContent = amountText(i.level, i.unit);
    }
  } else rows.innerHTML = s.ingredients.map((i) => `<tr class="${i.low ? 'low' : ''}" data-ingredient="${esc(i.id)}">
    <td>${esc(i.name)}</td><td class="level">${esc(amountText(i.level, i.unit))}</td>
    <td>${esc(amountText(i.low_stock, i.unit))}</td><td>${esc(amountText(i.par, i.unit))}</td>
    <td class="muted">${i.dishes.map(esc).join(', ')}</td>
    <td><input size="7" data-amount-of="${esc(i.id)}" aria-label="amount of ${esc(i.name)}" placeholder="e.g. 2 ${i.unit === 'g' ? 'kg' : i.unit === 'ml' ? 'l' : 'pc'}">
      <input size="12" data-why-of="${esc(i.id)}" aria-label="why, for ${esc(i.name)}" placeholder="why">
      <button class="small" data-action="restock" data-ingredient="${esc(i.id)}">Restock</button>
      <button class="small" data-action="count" data-ingredient="${esc(i.id)}">Set count</button></td></tr>`).join('');
  const moveRow = (m) => `<tr><td>${clock(m.at)}</td><td>${esc(m.kind)}</td><td>${itemsText(m.items)}</td>
    <td>${esc(m.dish_id)}</td><td>${esc(m.order_id)}</td><td>${esc(m.by)}</td><td>${esc(m.why)}</td></tr>`;
  $('stock-waste').innerHTML = s.waste.map(moveRow).join('') || '<tr><td colspan="7" class="muted">No waste recorded.</td></tr>';
  $('stock-moves').innerHTML = s.moves.map(moveRow).join('');
}

function renderPrep() {
  const p = kitchenView.prep;
  const box = $('prep');
  if (!p || p.error) {
    box.innerHTML = `<p class="muted">Prep list unavailable${p ? `: ${esc(p.error)}` : ''}.</p>`;
    return;
  }
  box.innerHTML = `<h3>Prep list for ${esc(p.date)}</h3><p class="muted">${esc(p.accuracy)}</p>
    <table class="report-table"><thead><tr><th>Ingredient</th><th>Need</th><th>In stock</th><th>To prep / order</th></tr></thead>
    <tbody>${p.lines.map((l) => `<tr class="${l.to_prep ? 'low' : ''}"><td>${esc(l.ingredient)}</td>
      <td>${esc(amountText(l.need, l.unit))}</td><td>${esc(amountText(l.in_stock, l.unit))}</td>
      <td>${l.to_prep ? esc(amountText(l.to_prep, l.unit)) : '—'}</td></tr>`).join('')
      || '<tr><td colspan="4" class="muted">No history for this weekday yet.</td></tr>'}</tbody></table>`;
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

async function loadReport() {
  const input = $('report-date');
  if (!input.value) input.value = today();
  const day = input.value;
  const box = $('report');
  const newest = newestLoad('report');
  box.setAttribute('aria-busy', 'true');
  try {
    const report = await call('GET', `/reports/${day}`);
    if (newest()) RobodineCharts.render(box, report, (s) => `${API}/reports/${day}/${s.id}.csv`);
  } catch (e) {
    if (newest()) box.textContent = `Report unavailable: ${e.message}`;
  } finally {
    if (newest()) box.removeAttribute('aria-busy');
  }
}

Object.assign(actions, {
  restock: (d) => {
    const { amount, why } = stockInputs(d.ingredient);
    return act(`Add ${amount} ${typeof amount === 'number' ? unitOf(d.ingredient) : ''} of ${d.ingredient} to stock?`,
      'POST', `/stock/${d.ingredient}/restock`, { amount, why }).then(loadStock);
  },
  count: (d) => {
    const { amount, why } = stockInputs(d.ingredient);
    return act(`Correct the count of ${d.ingredient} to ${amount} ${typeof amount === 'number' ? unitOf(d.ingredient) : ''}?`,
      'POST', `/stock/${d.ingredient}/count`, { level: amount, why }).then(loadStock);
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
