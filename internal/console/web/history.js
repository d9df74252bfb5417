// Sync history: the tenant's syncs, newest first.

import { describeError } from './api.js';
import { $, h, show } from './dom.js';
import { count, dateTime, readSentence, readTag, syncStatus } from './format.js';

const pageSize = 10;

/** changeSummary sums up a sync's user changes in a few words. */
export function changeSummary(c) {
  const u = c.users;
  const parts = [];
  if (u.add) parts.push(`${count(u.add)} added`);
  if (u.update) parts.push(`${count(u.update)} updated`);
  if (u.deactivate) parts.push(`${count(u.deactivate)} deactivated`);
  if (u.reactivate) parts.push(`${count(u.reactivate)} reactivated`);
  if (u.skip) parts.push(`${count(u.skip)} skipped`);
  return parts.length ? parts.join(', ') : 'no user changes';
}

/** eventList lists the lifecycle events published for a sync, oldest first. */
export function eventList(events) {
  if (!events || events.length === 0) return '–';
  return h('ol', { class: 'events', 'aria-label': 'Lifecycle events' },
    events.map((e) => h('li', {}, h('span', { class: 'event-type' }, e.type), ' ',
      h('time', { datetime: e.time }, dateTime(e.time)))));
}

export class HistoryView {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.tbody = $('history-table').querySelector('tbody');
    this.next = '';
    $('history-refresh').addEventListener('click', () => this.load());
    $('history-more').addEventListener('click', () => this.load(this.next));
  }

  /** load shows the first page, or appends the page at cursor. */
  async load(cursor = '') {
    const status = $('history-status');
    status.textContent = 'Loading…';
    try {
      const page = await this.api.listSyncs({ limit: pageSize, cursor });
      if (!cursor) this.tbody.replaceChildren();
      // Only the most recent applied import can be undone.
      if (!cursor) this.undoable = page.items.find((s) => s.confirmedAt);
      for (const s of page.items) this.tbody.append(this.row(s));
      this.next = page.nextCursor || '';
      show($('history-more'), !!this.next);
      status.textContent = this.tbody.children.length === 0 ? 'No imports yet.' : '';
    } catch (e) {
      if (this.app.handleAuthError(e)) return;
      status.textContent = `The sync history could not be loaded. ${describeError(e)}`;
    }
  }

  row(s) {
    const failed = ['PREVIEW_FAILED', 'FAILED', 'COMPLETED_WITH_ERRORS'].includes(s.status);
    return h('tr', { dataset: { sync: s.id, status: s.status } },
      h('td', { dataset: { label: 'Started' } }, dateTime(s.createdAt)),
      h('td', { dataset: { label: 'Started by' }, class: 'email' }, s.createdBy || '–'),
      h('td', { dataset: { label: 'Status' } }, h('span', { class: `badge status ${failed ? 'bad' : ''}` }, syncStatus(s.status))),
      h('td', { dataset: { label: 'Changes' } }, this.changes(s)),
      h('td', { dataset: { label: 'Confirmed by' }, class: 'email' }, s.confirmedBy ? `${s.confirmedBy}, ${dateTime(s.confirmedAt)}` : '–'),
      h('td', { dataset: { label: 'Events' }, class: 'events' }, eventList(s.events)),
      h('td', { dataset: { label: 'Actions' } },
        h('button', { type: 'button', class: 'small', onclick: () => this.app.openSync(s.id) },
          'View', h('span', { class: 'visually-hidden' }, ` the import started ${dateTime(s.createdAt)}`)),
        this.canUndo(s) && ' ',
        this.canUndo(s) && h('button', { type: 'button', class: 'small undo', onclick: () => this.app.undoSync(s.id) },
          'Undo…', h('span', { class: 'visually-hidden' }, ` the import started ${dateTime(s.createdAt)}`))));
  }

  // changes sums up what a sync changes, tagged with how it read Entra ID
  // (the tag's title says why), in one element so a card keeps it together.
  changes(s) {
    const summary = s.status === 'PREVIEWING' || s.status === 'PREVIEW_FAILED' ? '–' : changeSummary(s.counts);
    const tag = readTag(s.readKind);
    if (!tag) return summary;
    return h('span', {}, summary, ' ', h('span', { class: 'badge read-kind', title: readSentence(s) }, tag));
  }

  // canUndo: the most recent applied import, once it completed. The
  // service decides (the undo window, a later import); the undo is a
  // preview, so nothing changes before the admin confirms it.
  canUndo(s) {
    return this.undoable && this.undoable.id === s.id && ['COMPLETED', 'COMPLETED_WITH_ERRORS'].includes(s.status);
  }
}
