// Small DOM helpers. Text always goes in as text nodes, never as HTML, so
// names and messages from the directory cannot inject markup.

/** $ finds an element by id and fails loudly when the page lacks it. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el;
}

/**
 * h builds an element: h('td', {class: 'x', dataset: {label: 'Name'}}, 'text', child).
 * Attributes set to null, undefined or false are left out.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** show toggles the hidden attribute. */
export function show(el, visible) {
  el.hidden = !visible;
}

/** replace empties el and appends the children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** setBusy disables a button while an action runs and says so to assistive tech. */
export function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute('aria-busy', busy ? 'true' : 'false');
}

/** sleep resolves after ms. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Pager walks a cursor-paged listing: it keeps the cursor of every page
 * seen so Previous works without the API paging backwards.
 */
export class Pager {
  constructor(root, onPage) {
    this.root = root;
    this.onPage = onPage;
    this.prevButton = root.querySelector('[data-page="prev"]');
    this.nextButton = root.querySelector('[data-page="next"]');
    this.label = root.querySelector('.page-label');
    this.reset();
    this.prevButton.addEventListener('click', () => this.go(-1));
    this.nextButton.addEventListener('click', () => this.go(1));
  }

  reset() {
    this.cursors = [''];
    this.index = 0;
    this.next = '';
  }

  get cursor() {
    return this.cursors[this.index];
  }

  /** update records the next cursor of the page just shown. */
  update(nextCursor) {
    this.next = nextCursor || '';
    this.prevButton.disabled = this.index === 0;
    this.nextButton.disabled = !this.next;
    this.label.textContent = `Page ${this.index + 1}`;
    this.root.hidden = this.index === 0 && !this.next;
  }

  go(step) {
    if (step > 0 && this.next) {
      this.cursors[this.index + 1] = this.next;
      this.cursors.length = this.index + 2;
      this.index += 1;
    } else if (step < 0 && this.index > 0) {
      this.index -= 1;
    } else {
      return;
    }
    this.onPage();
  }
}
