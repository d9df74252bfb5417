// The platform directory's users: status, source and groups.

import { describeError } from './api.js';
import { $, h, Pager } from './dom.js';
import { range } from './format.js';

const pageSize = 25;

export class UsersView {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.tbody = $('users-table').querySelector('tbody');
    this.pager = new Pager($('users-pager'), () => this.load());
    this.seq = 0;
    $('users-search').addEventListener('submit', (e) => {
      e.preventDefault();
      this.pager.reset();
      this.load();
    });
    $('users-refresh').addEventListener('click', () => this.load());
  }

  async load() {
    const seq = ++this.seq;
    const status = $('users-status-text');
    status.textContent = 'Loading…';
    const q = $('users-q').value.trim();
    try {
      const page = await this.api.listUsers({
        q, status: $('users-status').value, limit: pageSize, cursor: this.pager.cursor,
      });
      if (seq !== this.seq) return;
      this.tbody.replaceChildren(...page.items.map((u) => this.row(u)));
      this.pager.update(page.nextCursor);
      const first = this.pager.index * pageSize + 1;
      status.textContent = page.items.length === 0
        ? (q ? `No user matches “${q}”.` : 'No users yet.')
        : `${range(first, page.items.length)}.`;
    } catch (e) {
      if (seq !== this.seq || this.app.handleAuthError(e)) return;
      status.textContent = `The users could not be loaded. ${describeError(e)}`;
    }
  }

  row(u) {
    const groups = u.groups || [];
    return h('tr', { dataset: { user: u.id, source: u.source, status: u.status } },
      h('td', { dataset: { label: 'Name' } }, u.displayName || '(no name)'),
      h('td', { dataset: { label: 'Email' }, class: 'email' }, u.email),
      h('td', { dataset: { label: 'Status' } },
        h('span', { class: `badge ${u.status === 'active' ? 'good' : 'bad'}` }, u.status === 'active' ? 'Active' : 'Inactive')),
      h('td', { dataset: { label: 'Source' } },
        h('span', { class: 'badge' }, u.source === 'entra' ? 'Entra ID' : 'Created here')),
      h('td', { dataset: { label: 'Groups' }, class: 'groups' },
        groups.length ? groups.map((g) => g.displayName).join(', ') : '–'));
  }
}
