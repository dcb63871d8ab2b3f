// What the diner page and the kitchen console share: their texts and building elements.
//
// `i18n.json` holds one table per language (`ko`, `en`, `zh`), the same keys in each, the
// diner page's; `console_i18n.json` the console's, alike (a file of its own: the diner's phone
// never downloads the kitchen's texts), which the console reads under `console` of each table.
// A text is found by a dotted key (`console.tabs.fleet`); `{name}` in it is filled with a
// value; an element marked `data-i18n="key"` takes its text from the table (`data-i18n-label`:
// its aria-label, `data-i18n-title`: its title). Vanilla JS, no build step.
'use strict';

const I18n = {
  LANGS: ['ko', 'en', 'zh'],

  // The tables of i18n.json, each with those of `more` ({key: file}) under its key.
  async load(more = {}) {
    const read = async (file) => (await fetch(`/static/${file}`)).json();
    const [tables, ...others] = await Promise.all([read('i18n.json'), ...Object.values(more).map(read)]);
    Object.keys(more).forEach((key, i) => {
      for (const lang of I18n.LANGS) tables[lang][key] = others[i][lang];
    });
    return tables;
  },

  // The first of `tags` (language tags, best first: 'zh-CN', 'ko') a table speaks, else English.
  pick(tags) {
    for (const tag of tags) {
      const lang = String(tag || '').toLowerCase().split('-')[0];
      if (I18n.LANGS.includes(lang)) return lang;
    }
    return 'en';
  },

  // The entry at a dotted key of `table` (a text or a table), undefined when there is none.
  find(table, key) {
    let node = table;
    for (const part of key.split('.')) {
      if (node === null || typeof node !== 'object') return undefined;
      node = node[part];
    }
    return node;
  },

  // `text` with each `{name}` replaced by value(name); one it gives undefined for stays as is.
  fill(text, value) {
    return String(text).replace(/\{(\w+)\}/g, (whole, name) => value(name) ?? whole);
  },

  // A dish's chosen options ([[option, choice], ...] ids) as its menu entry names them, each
  // name ({ko, en, zh}) through `named`: [[option, choice], ...]; ids for what the menu no
  // longer has.
  options(dish, chosen, named) {
    return chosen.map(([opt, choice]) => {
      const option = dish?.options.find((o) => o.id === opt);
      const found = option?.choices.find((c) => c.id === choice);
      return [option ? named(option.name) : opt, found ? named(found.name) : choice];
    });
  },

  // The marked elements under `root` take their texts from t(key).
  mark(root, t) {
    for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    for (const node of root.querySelectorAll('[data-i18n-label]')) {
      node.setAttribute('aria-label', t(node.dataset.i18nLabel));
    }
    for (const node of root.querySelectorAll('[data-i18n-title]')) {
      node.setAttribute('title', t(node.dataset.i18nTitle));
    }
  },
};

// An element: `attrs` set as attributes (`class`; `on…` as listeners; false or null left out),
// `children` appended as nodes or text (null and false left out). Text is never parsed as
// HTML: what people wrote is shown as they wrote it.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}
