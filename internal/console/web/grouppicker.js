// The scope groups picker: a combobox that searches the connection's Entra
// groups by the start of their name, and chips for the chosen groups. The
// ids are what the connection saves; names are shown beside them.

import { ApiError, describeError } from './api.js';
import { h, replace } from './dom.js';
import { plural } from './format.js';

export const guidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// How long typing pauses before the page searches.
export const searchDelayMs = 250;
// The API answers at most this many groups.
const maxMatches = 25;
const maxPrefix = 120;

/** membersText says how many users a group brings in, '' when Graph did not count them. */
export function membersText(memberCount) {
  if (typeof memberCount !== 'number') return '';
  return plural(memberCount, 'member', 'members');
}

/** moveActive is the option index after pressing an arrow: it wraps, and -1 means none. */
export function moveActive(current, step, length) {
  if (length === 0) return -1;
  if (current < 0) return step > 0 ? 0 : length - 1;
  return (current + step + length) % length;
}

/**
 * optionsFor are the choices to list for what the admin typed: a pasted
 * group object id as itself, else the search's matches that are not chosen
 * yet.
 */
export function optionsFor(text, matches, chosenIds) {
  const typed = text.trim();
  if (guidPattern.test(typed)) {
    const id = typed.toLowerCase();
    return chosenIds.has(id) ? [] : [{ id, displayName: null, pasted: true }];
  }
  return (matches || []).filter((g) => !chosenIds.has(g.id.toLowerCase()));
}

export class GroupPicker {
  /**
   * @param {object} o
   * @param {HTMLInputElement} o.input the combobox
   * @param {HTMLElement} o.listbox its list of options
   * @param {HTMLElement} o.chips the list of chosen groups
   * @param {HTMLElement} o.message visible status under the input
   * @param {HTMLElement} o.live polite announcements for screen readers
   * @param {(q: string) => Promise<{items: object[]}>} o.search
   * @param {() => void} o.onChange called when a group is added or removed
   * @param {(e: Error) => boolean} o.handleAuthError
   */
  constructor(o) {
    Object.assign(this, o);
    this.chosen = []; // [{id, displayName}]
    this.known = new Map(); // id -> name seen in this page
    this.options = [];
    this.active = -1;
    this.timer = 0;
    this.seq = 0;
    this.input.addEventListener('input', () => this.typed());
    this.input.addEventListener('keydown', (e) => this.key(e));
    this.input.addEventListener('blur', () => this.close());
    // A press on an option must not take the focus from the input first.
    this.listbox.addEventListener('mousedown', (e) => e.preventDefault());
    this.listbox.addEventListener('click', (e) => {
      const li = e.target.closest('[role="option"]');
      if (li) this.choose(Number(li.dataset.index));
    });
  }

  /** ids are the chosen groups' object ids, in the order chosen. */
  ids() {
    return this.chosen.map((g) => g.id);
  }

  /** set shows the stored scope groups: [{id, displayName|null}]. */
  set(groups) {
    this.chosen = [];
    for (const g of groups || []) {
      const id = g.id.toLowerCase();
      if (g.displayName) this.known.set(id, g.displayName);
      if (!this.chosen.some((c) => c.id === id)) this.chosen.push({ id, displayName: g.displayName || this.known.get(id) || null });
    }
    this.input.value = '';
    this.message.textContent = '';
    this.close();
    this.renderChips();
  }

  /** commitTyped adds a pasted group object ID still in the field (before saving). */
  commitTyped() {
    const options = optionsFor(this.input.value, [], this.chosenIds());
    if (options.length === 1 && options[0].pasted) {
      this.options = options;
      this.choose(0);
    }
  }

  typed() {
    clearTimeout(this.timer);
    const text = this.input.value.trim();
    this.seq += 1;
    if (text === '') {
      this.message.textContent = '';
      this.close();
      return;
    }
    if (guidPattern.test(text)) {
      this.show(optionsFor(text, [], this.chosenIds()), text);
      return;
    }
    if (text.length > maxPrefix) {
      this.message.textContent = `Type at most ${maxPrefix} characters of the name.`;
      this.close();
      return;
    }
    const seq = this.seq;
    this.timer = setTimeout(() => this.run(text, seq), searchDelayMs);
  }

  async run(text, seq) {
    this.message.textContent = 'Searching…';
    try {
      const res = await this.search(text);
      if (seq !== this.seq) return; // the admin typed on
      const matches = res.items || [];
      const options = optionsFor(text, matches, this.chosenIds());
      this.show(options, text);
      // Answered after the admin left the field: ArrowDown opens it again.
      if (document.activeElement !== this.input) this.close();
      if (matches.length === 0) {
        this.message.textContent = `No group’s name starts with “${text}”.`;
      } else if (options.length === 0) {
        this.message.textContent = 'Every group that matches is chosen already.';
      } else if (matches.length >= maxMatches) {
        this.message.textContent = `The first ${maxMatches} matches: type more of the name to narrow them.`;
      } else {
        this.message.textContent = `${plural(matches.length, 'group', 'groups')} found.`;
      }
      this.live.textContent = this.message.textContent;
    } catch (e) {
      if (seq !== this.seq) return;
      if (this.handleAuthError(e)) return;
      this.close();
      this.message.textContent = `${searchFailure(e)} You can also paste a group object ID.`;
      this.live.textContent = this.message.textContent;
    }
  }

  chosenIds() {
    return new Set(this.chosen.map((g) => g.id));
  }

  show(options, text) {
    this.options = options;
    this.active = options.length > 0 ? 0 : -1;
    const items = options.map((g, i) => h('li', {
      role: 'option', id: `${this.listbox.id}-${i}`, class: 'option',
      'aria-selected': i === this.active ? 'true' : 'false',
      dataset: { index: String(i), group: g.id },
    },
    g.pasted
      ? [h('span', { class: 'option-name' }, 'Add the group with object ID'), h('span', { class: 'option-meta mono' }, g.id)]
      : [h('span', { class: 'option-name' }, highlight(g.displayName, text)),
        membersText(g.memberCount) ? h('span', { class: 'option-meta' }, membersText(g.memberCount)) : null]));
    replace(this.listbox, items);
    const open = options.length > 0;
    this.listbox.hidden = !open;
    this.input.setAttribute('aria-expanded', open ? 'true' : 'false');
    this.markActive();
    if (!open) return;
    if (options[0].pasted) this.message.textContent = 'Press Enter to add this group object ID.';
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
    this.active = -1;
  }

  isOpen() {
    return !this.listbox.hidden;
  }

  markActive() {
    for (const li of this.listbox.querySelectorAll('[role="option"]')) {
      const on = Number(li.dataset.index) === this.active;
      li.setAttribute('aria-selected', on ? 'true' : 'false');
      li.classList.toggle('active', on);
      if (on) li.scrollIntoView({ block: 'nearest' });
    }
    if (this.active >= 0 && this.isOpen()) this.input.setAttribute('aria-activedescendant', `${this.listbox.id}-${this.active}`);
    else this.input.removeAttribute('aria-activedescendant');
  }

  key(e) {
    switch (e.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        if (this.options.length === 0) return;
        e.preventDefault();
        if (!this.isOpen()) {
          this.show(this.options, this.input.value.trim());
          return;
        }
        this.active = moveActive(this.active, e.key === 'ArrowDown' ? 1 : -1, this.options.length);
        this.markActive();
        return;
      }
      case 'Enter':
        // Enter picks; it saves the form only from an empty field.
        if (this.input.value.trim() === '') return;
        e.preventDefault();
        if (this.isOpen() && this.active >= 0) this.choose(this.active);
        return;
      case 'Escape':
        if (this.isOpen()) {
          e.preventDefault();
          this.close();
        } else if (this.input.value !== '') {
          e.preventDefault();
          this.input.value = '';
          this.seq += 1;
          this.message.textContent = '';
        }
        return;
      case 'Tab':
        this.close();
        return;
      default:
    }
  }

  choose(index) {
    const g = this.options[index];
    if (!g) return;
    const id = g.id.toLowerCase();
    if (g.displayName) this.known.set(id, g.displayName);
    if (!this.chosen.some((c) => c.id === id)) this.chosen.push({ id, displayName: g.displayName || this.known.get(id) || null });
    this.input.value = '';
    this.seq += 1;
    this.options = [];
    this.close();
    this.renderChips();
    this.message.textContent = '';
    this.live.textContent = `${g.displayName || id} added. ${this.summary()}`;
    this.input.focus();
    this.onChange();
  }

  remove(id) {
    const i = this.chosen.findIndex((g) => g.id === id);
    if (i < 0) return;
    const [g] = this.chosen.splice(i, 1);
    this.renderChips();
    // The focus goes to the next chip's remove button, else to the input.
    const buttons = this.chips.querySelectorAll('.chip-remove');
    (buttons[Math.min(i, buttons.length - 1)] || this.input).focus();
    this.live.textContent = `${g.displayName || g.id} removed. ${this.summary()}`;
    this.onChange();
  }

  summary() {
    return this.chosen.length === 0
      ? 'No group chosen: all users are imported.'
      : `${plural(this.chosen.length, 'group', 'groups')} chosen.`;
  }

  renderChips() {
    replace(this.chips, this.chosen.map((g) => {
      const name = g.displayName || 'Name not available';
      return h('li', { class: 'chip', dataset: { group: g.id } },
        h('span', { class: 'chip-text', title: `Group object ID ${g.id}` },
          h('span', { class: g.displayName ? 'chip-name' : 'chip-name unknown' }, name),
          h('span', { class: 'chip-id mono' }, g.id)),
        h('button', {
          type: 'button', class: 'chip-remove', 'aria-label': `Remove ${name} (${g.id})`,
          onclick: () => this.remove(g.id),
        }, h('span', { 'aria-hidden': 'true' }, '×')));
    }));
    this.chips.hidden = this.chosen.length === 0;
  }
}

/** searchFailure says why groups cannot be searched, as a sentence. */
export function searchFailure(e) {
  if (!(e instanceof ApiError) || e.code !== 'unprocessable') return describeError(e);
  if (/no Entra ID connection/i.test(e.message)) return 'Save the connection first: then its groups can be searched by name.';
  const detail = (e.message || '').trim();
  return `Groups cannot be searched: ${detail}${/[.!?)]$/.test(detail) ? '' : '.'}`;
}

/** highlight marks the typed start of a name. */
function highlight(name, text) {
  if (text && name.toLowerCase().startsWith(text.toLowerCase())) {
    return [h('mark', {}, name.slice(0, text.length)), name.slice(text.length)];
  }
  return name;
}
