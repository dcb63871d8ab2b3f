// Report charts as inline SVG, drawn from a report section (orchestrator/reports/day.py):
// {columns, rows, chart: {type: bar|stacked|line|hbar, x, series, line?, unit?}}. No build step,
// no library: the console's Reports tab and the page `robodine report` writes both use it.
// What it writes comes from `say`: the console's, in the operator's language; the page
// `robodine report` writes says it as the report does (`english`), with the English words of the
// console's table (`reports` in console_i18n.json).
(function (root) {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#718096'];
  const W = 640, H = 260, PAD = {l: 56, r: 56, t: 16, b: 40};
  // The report's own titles, notes, columns and values; `words`: {csv, nothing, demo,
  // right_axis}.
  function english(words) {
    return {
      title: (s) => s.title,
      note: (s) => s.note,
      column: (name) => name,
      cell: (column, v) => (v === null ? '—' : String(v)),
      text: (key) => words[key],
    };
  }
  let say = null;

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function column(section, name) {
    const i = section.columns.indexOf(name);
    return section.rows.map((r) => (r[i] === null ? 0 : Number(r[i])));
  }

  // The axis top: four equal steps of a round size.
  function niceMax(v) {
    if (!(v > 0)) return 4;
    const step = v / 4, p = Math.pow(10, Math.floor(Math.log10(step)));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= step) return 4 * m * p;
    return 40 * p;
  }

  function axis(svg, max, x0, y0, w, h, right, unit) {
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      const y = y0 + h - (h * k) / 4;
      if (!right) svg.appendChild(el('line', {x1: x0, x2: x0 + w, y1: y, y2: y, class: 'grid'}));
      const label = (Math.round(v * 10) / 10).toLocaleString() + (unit && k === 4 ? ' ' + unit : '');
      svg.appendChild(el('text', {x: right ? x0 + w + 4 : x0 - 4, y: y + 4,
        'text-anchor': right ? 'start' : 'end', class: 'tick'}, label));
    }
  }

  // names: [name, colour] pairs, spread over the width.
  function legend(svg, names, x0, y) {
    const gap = Math.min(120, (W - x0) / names.length);
    names.forEach(([n, colour], i) => {
      const x = x0 + i * gap;
      svg.appendChild(el('rect', {x, y: y - 9, width: 10, height: 10, fill: colour}));
      svg.appendChild(el('text', {x: x + 14, y, class: 'tick'}, n));
    });
  }

  function keyed(names) { return names.map((n, i) => [n, COLORS[i % 7]]); }

  function vertical(section, c) {
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': say.title(section)});
    const xs = section.rows.map((r) => r[section.columns.indexOf(c.x)]);
    const series = c.series.map((s) => column(section, s));
    const w = W - PAD.l - PAD.r, h = H - PAD.t - PAD.b, n = Math.max(xs.length, 1);
    const stacked = c.type === 'stacked';
    const tops = xs.map((_, i) => stacked ? series.reduce((a, s) => a + s[i], 0)
      : Math.max(0, ...series.map((s) => s[i])));
    const max = niceMax(Math.max(0, ...tops));
    axis(svg, max, PAD.l, PAD.t, w, h, false, c.unit);
    const slot = w / n;
    xs.forEach((x, i) => {
      svg.appendChild(el('text', {x: PAD.l + slot * (i + 0.5), y: PAD.t + h + 14,
        'text-anchor': 'middle', class: 'tick'}, say.cell(c.x, x)));
    });
    if (c.type === 'line') {
      series.forEach((s, k) => {
        const pts = s.map((v, i) => `${PAD.l + slot * (i + 0.5)},${PAD.t + h - (h * v) / max}`);
        svg.appendChild(el('polyline', {points: pts.join(' '), fill: 'none',
          stroke: COLORS[k % 7], 'stroke-width': 2, class: 'series'}));
        s.forEach((v, i) => svg.appendChild(el('circle', {cx: PAD.l + slot * (i + 0.5),
          cy: PAD.t + h - (h * v) / max, r: 3, fill: COLORS[k % 7]})));
      });
    } else {
      xs.forEach((_, i) => {
        let base = 0;
        series.forEach((s, k) => {
          const bw = stacked ? slot * 0.7 : (slot * 0.8) / series.length;
          const x = PAD.l + slot * i + (stacked ? slot * 0.15 : slot * 0.1 + bw * k);
          const bh = (h * s[i]) / max;
          const y = PAD.t + h - bh - (stacked ? (h * base) / max : 0);
          const bar = el('rect', {x, y, width: Math.max(bw - 1, 1), height: bh,
            fill: COLORS[k % 7], class: 'series'});
          bar.appendChild(el('title', {}, `${say.column(c.series[k])} ${say.cell(c.x, xs[i])}: ${s[i]}`));
          svg.appendChild(bar);
          base += s[i];
        });
      });
    }
    if (c.line) {
      const s = column(section, c.line), lmax = niceMax(Math.max(0, ...s));
      axis(svg, lmax, PAD.l, PAD.t, w, h, true, '');
      const pts = s.map((v, i) => `${PAD.l + slot * (i + 0.5)},${PAD.t + h - (h * v) / lmax}`);
      svg.appendChild(el('polyline', {points: pts.join(' '), fill: 'none', stroke: '#1a202c',
        'stroke-width': 2, 'stroke-dasharray': '4 3', class: 'series'}));
    }
    const line = c.line
      ? [[say.text('right_axis').replace('{column}', say.column(c.line)), '#1a202c']] : [];
    legend(svg, [...keyed(c.series.map(say.column)), ...line], PAD.l, H - 5);
    return svg;
  }

  function horizontal(section, c) {
    const xs = section.rows.map((r) => r[section.columns.indexOf(c.x)]);
    const series = c.series.map((s) => column(section, s));
    const band = 8 + 10 * series.length, h = xs.length * band, height = h + PAD.t + 24;
    const svg = el('svg', {viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img',
      'aria-label': say.title(section)});
    const x0 = 130, w = W - x0 - 70;
    const max = niceMax(Math.max(0, ...series.flat()));
    xs.forEach((x, i) => {
      const y = PAD.t + i * band;
      svg.appendChild(el('text', {x: x0 - 6, y: y + band / 2 + 3, 'text-anchor': 'end',
        class: 'tick'}, say.cell(c.x, x)));
      series.forEach((s, k) => {
        const bar = el('rect', {x: x0, y: y + 4 + k * 10, width: Math.max((w * s[i]) / max, 0),
          height: 8, fill: COLORS[k % 7], class: 'series'});
        bar.appendChild(el('title', {}, `${say.column(c.series[k])} ${say.cell(c.x, x)}: ${s[i]}`));
        svg.appendChild(bar);
        svg.appendChild(el('text', {x: x0 + (w * s[i]) / max + 4, y: y + 11 + k * 10,
          class: 'tick'}, `${s[i]}${c.unit ? ' ' + c.unit : ''}`));
      });
    });
    legend(svg, keyed(c.series.map(say.column)), x0, height - 5);
    return svg;
  }

  function draw(section) {
    const c = section.chart;
    if (!c || !section.rows.length) return null;
    return c.type === 'hbar' ? horizontal(section, c) : vertical(section, c);
  }

  function table(section) {
    const t = document.createElement('table');
    t.className = 'report-table';
    const head = t.createTHead().insertRow();
    for (const c of section.columns) head.appendChild(document.createElement('th')).textContent = say.column(c);
    const body = t.createTBody();
    for (const r of section.rows) {
      const tr = body.insertRow();
      r.forEach((v, i) => { tr.insertCell().textContent = say.cell(section.columns[i], v); });
    }
    if (!section.rows.length) body.insertRow().insertCell().textContent = say.text('nothing');
    return t;
  }

  // The whole report into `container`; csvHref(section) gives a download link (or null);
  // `words`: {title(section), note(section), column(name), cell(column, value), text(key)}.
  function render(container, report, csvHref, words) {
    say = words;
    container.replaceChildren();
    if (report.demo) {
      const b = container.appendChild(document.createElement('p'));
      b.className = 'demo-banner';
      b.textContent = say.text('demo');
    }
    for (const s of report.sections) {
      const box = container.appendChild(document.createElement('section'));
      box.className = 'report-section';
      box.dataset.section = s.id;
      const h = box.appendChild(document.createElement('h3'));
      h.textContent = say.title(s);
      const href = csvHref ? csvHref(s) : null;
      if (href) {
        const a = h.appendChild(document.createElement('a'));
        a.href = href;
        a.textContent = say.text('csv');
        a.className = 'csv';
        a.setAttribute('download', `${report.date}-${s.id}.csv`);
      }
      if (s.note) box.appendChild(document.createElement('p')).textContent = say.note(s);
      const chart = draw(s);
      if (chart) box.appendChild(chart);
      box.appendChild(table(s));
    }
  }

  root.RobodineCharts = {draw, table, render, english};
})(window);
