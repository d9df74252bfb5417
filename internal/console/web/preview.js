// The preview of a sync: counts, safeguards, and the changes by kind in
// tabs with search and paging. While the preview is ready the admin can
// exclude a change (it is not applied) or include it back; the counts and
// safeguards the API recomputes are shown at once.

import { describeError } from './api.js';
import { $, h, Pager, replace, setBusy, show } from './dom.js';
import { count, dateTime, fieldLabel, outcome, planSentence, plural, range, readSentence, reason, safeguardSentence, syncStatus } from './format.js';

const pageSize = 25;

// The tabs, in the order the admin reads them. Groups list every group
// change; the others list user changes of one kind.
// The kind tabs list the included changes (the ones a confirm applies);
// the Excluded tab lists the ones the admin left out.
export const tabs = [
  { id: 'add', label: 'Added', filter: { objectType: 'user', kind: 'add', excluded: false }, countOf: (c) => c.users.add },
  { id: 'update', label: 'Updated', filter: { objectType: 'user', kind: 'update', excluded: false }, countOf: (c) => c.users.update },
  { id: 'deactivate', label: 'Deactivated', filter: { objectType: 'user', kind: 'deactivate', excluded: false }, countOf: (c) => c.users.deactivate },
  { id: 'reactivate', label: 'Reactivated', filter: { objectType: 'user', kind: 'reactivate', excluded: false }, countOf: (c) => c.users.reactivate },
  // Skips include the users the connection always ignores (reason
  // ignored_by_admin), counted apart in counts.users.ignored.
  { id: 'skip', label: 'Skipped', filter: { objectType: 'user', kind: 'skip' }, countOf: (c) => c.users.skip + (c.users.ignored || 0) },
  { id: 'groups', label: 'Groups', filter: { objectType: 'group', excluded: false }, countOf: (c) => c.groups.add + c.groups.update + c.groups.remove },
  { id: 'excluded', label: 'Excluded', filter: { excluded: true }, countOf: (c) => excludedCount(c) },
];

/** excludedCount is how many changes the admin excluded. */
export function excludedCount(c) {
  return (c.users.excluded || 0) + (c.groups.excluded || 0);
}

const emptyText = {
  add: 'No new users.',
  update: 'No existing user changes.',
  deactivate: 'No user will be deactivated.',
  reactivate: 'No user will be reactivated.',
  skip: 'No user is skipped.',
  groups: 'No group changes.',
  excluded: 'You have not excluded any change. Use “Exclude” on a row to leave a change out of this import.',
};

const groupKindLabels = { add: 'New group', update: 'Group changed', remove: 'Group removed' };

/** trippedSafeguards returns the safeguards of a sync that tripped. */
export function trippedSafeguards(sync) {
  return (sync.safeguards || []).filter((g) => g.tripped);
}

export class PreviewView {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.sync = null;
    this.readOnly = false;
    this.active = 'add';
    this.q = '';
    this.loadSeq = 0;
    this.tabList = $('change-tabs');
    this.panel = $('change-panel');
    this.tbody = $('change-table').querySelector('tbody');
    this.pager = new Pager($('change-pager'), () => this.loadChanges());
    this.buildTabs();
    $('change-search').addEventListener('submit', (e) => {
      e.preventDefault();
      this.q = $('change-q').value.trim();
      $('change-download-status').textContent = '';
      this.pager.reset();
      this.loadChanges();
    });
    $('change-download').addEventListener('click', () => this.download());
  }

  buildTabs() {
    this.tabButtons = tabs.map((t) => {
      const b = h('button', {
        type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': 'change-panel',
        'aria-selected': 'false', tabindex: '-1', dataset: { kind: t.id },
      }, h('span', { class: 'tab-label' }, t.label), ' ', h('span', { class: 'tab-count' }, '0'));
      b.addEventListener('click', () => this.select(t.id, false));
      b.addEventListener('keydown', (e) => this.onTabKey(e));
      this.tabList.append(b);
      return b;
    });
  }

  // Arrow keys move between tabs (and select, as the tabs are cheap to
  // show); Home and End jump to the ends.
  onTabKey(e) {
    const i = this.tabButtons.indexOf(e.currentTarget);
    let next = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') next = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    if (next === null) return;
    e.preventDefault();
    this.select(tabs[next].id, true);
  }

  select(id, focus) {
    this.active = id;
    for (const b of this.tabButtons) {
      const on = b.dataset.kind === id;
      b.setAttribute('aria-selected', on ? 'true' : 'false');
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    this.panel.setAttribute('aria-labelledby', `tab-${id}`);
    $('change-download-status').textContent = ''; // it spoke of another tab's file
    this.pager.reset();
    this.loadChanges();
  }

  /** render shows a sync's preview; readOnly hides the confirm actions. */
  render(sync, { readOnly = false } = {}) {
    const firstTime = !this.sync || this.sync.id !== sync.id;
    this.sync = sync;
    this.readOnly = readOnly || sync.status !== 'PREVIEW_READY';
    this.renderSummary(sync, readOnly);
    const c = sync.counts;
    show($('preview'), true);
    if (firstTime) {
      $('change-q').value = '';
      this.q = '';
      // Open on the first kind that has something to show.
      const first = tabs.find((t) => t.countOf(c) > 0) || tabs[0];
      this.select(first.id, false);
    } else {
      this.loadChanges();
    }
  }

  /** renderSummary shows what a preview comes to: meta, safeguards, counts. */
  renderSummary(sync, readOnly) {
    const c = sync.counts;
    const title = sync.kind === 'undo' ? 'Undo preview' : 'Preview';
    $('preview-title').textContent = readOnly ? `${title} (${syncStatus(sync.status).toLowerCase()})` : title;
    $('preview-meta').textContent = [
      sync.kind === 'undo' ? 'This import undoes an earlier one: it reverses what that import applied (users it added are deactivated, never deleted). Users edited since are left as they are.' : '',
      `Started ${dateTime(sync.createdAt)} by ${sync.createdBy || 'an administrator'}.`,
      sync.status === 'PREVIEW_READY' && sync.expiresAt ? `It can be confirmed until ${dateTime(sync.expiresAt)}.` : '',
      sync.status === 'EXPIRED' ? 'This preview expired: start a new import to see the current changes.' : '',
      sync.status === 'CANCELLED' && !sync.confirmedAt ? 'This preview was discarded.' : '',
    ].filter(Boolean).join(' ');
    // How Entra ID was read: only the changes, or all of it and why.
    const read = [readSentence(sync), planSentence(sync)].filter(Boolean).join(' ');
    $('preview-read').textContent = read;
    show($('preview-read'), !!read);

    const tripped = trippedSafeguards(sync);
    const banner = $('safeguard-banner');
    show(banner, tripped.length > 0);
    if (tripped.length > 0) {
      replace(banner,
        h('strong', {}, 'Safeguard: this import would deactivate more users than your threshold allows.'),
        h('ul', {}, tripped.map((g) => h('li', { dataset: { safeguard: g.name } }, safeguardSentence(g)))),
        h('p', {}, 'Check the Deactivated tab. If this is expected, you can still confirm, with an explicit consent; otherwise fix the connection’s scope and import again.'));
    }
    const warnings = $('preview-warnings');
    replace(warnings, (sync.warnings || []).map((w) => h('li', {}, w)));
    show(warnings, (sync.warnings || []).length > 0);

    const items = [
      ['add', 'Added', c.users.add, 'new users'],
      ['update', 'Updated', c.users.update, 'existing users change'],
      ['deactivate', 'Deactivated', c.users.deactivate, 'users leave'],
      ['reactivate', 'Reactivated', c.users.reactivate, 'users return'],
      ['skip', 'Skipped', c.users.skip, 'users not imported'],
      ['ignored', 'Ignored', c.users.ignored || 0, 'users always ignored'],
    ];
    replace($('preview-counts'), items.map(([kind, label, n, hint]) =>
      h('div', { class: `count count-${kind}`, dataset: { kind } },
        h('dt', {}, label),
        h('dd', {}, h('span', { class: 'count-value' }, count(n)), h('span', { class: 'count-hint' }, hint)))));
    $('preview-extra').textContent = [
      excludedCount(c) > 0 && `${plural(excludedCount(c), 'change', 'changes')} excluded by you`,
      `${plural(c.users.unchanged, 'user is', 'users are')} already up to date`,
      `${plural(c.users.outOfScope, 'user is', 'users are')} out of scope (disabled, guests or outside the chosen groups)`,
      `groups: ${count(c.groups.add)} new, ${count(c.groups.update)} changed, ${count(c.groups.remove)} removed`,
      `memberships: ${count(c.memberships.add)} added, ${count(c.memberships.remove)} removed`,
    ].filter(Boolean).join(' · ') + '.';

    tabs.forEach((t, i) => {
      this.tabButtons[i].querySelector('.tab-count').textContent = count(t.countOf(c));
    });
    show($('preview-actions'), !readOnly);
  }

  /**
   * setExcluded excludes one change (or includes it back) and shows the
   * recomputed counts; the row stays where it is, marked, until the list
   * is loaded again.
   */
  async setExcluded(ch, excluded, row) {
    const button = row.querySelector('button.exclude');
    const status = $('change-status');
    setBusy(button, true);
    try {
      const updated = await this.api.setExcluded(this.sync.id, ch.seq, excluded);
      const sync = await this.api.getSync(this.sync.id);
      if (!this.sync || sync.id !== this.sync.id) return false;
      this.sync = sync;
      this.renderSummary(sync, false);
      // A list still loading was read before this change: read it again.
      if (this.panel.getAttribute('aria-busy') === 'true') {
        this.loadChanges();
        return true;
      }
      replace(row, ...this.cells(updated));
      row.classList.toggle('excluded', updated.excluded);
      status.textContent = updated.excluded
        ? `${ch.subject.displayName || ch.subject.email || 'The change'} is excluded: it will not be applied.`
        : `${ch.subject.displayName || ch.subject.email || 'The change'} is included again.`;
      row.querySelector('button.exclude').focus();
      return true;
    } catch (e) {
      if (this.app.handleAuthError(e)) return false;
      status.textContent = `The change could not be ${excluded ? 'excluded' : 'included'}. ${describeError(e, {
        conflict: 'This preview can no longer be changed: it was confirmed, discarded or replaced meanwhile.',
        gone: 'This preview has expired.',
      })}`;
      setBusy(button, false);
      return false;
    }
  }

  /**
   * alwaysIgnore adds the change's Entra user to the connection's ignored
   * users and excludes the change from this preview.
   */
  async alwaysIgnore(ch, row) {
    const button = row.querySelector('button.ignore');
    const status = $('change-status');
    const who = ch.subject.displayName || ch.subject.email || 'This user';
    setBusy(button, true);
    try {
      await this.api.editIgnoredUsers([ch.subject.externalId.toLowerCase()], true);
      this.app.connectionView.fill(await this.api.getConnection());
      const later = 'You can stop ignoring them in the connection settings.';
      if (ch.excluded) {
        replace(row, ...this.cells(ch));
        status.textContent = `${who} will be left out of future imports (always ignored); this change was excluded already. ${later}`;
      } else if (await this.setExcluded(ch, true, row)) {
        status.textContent = `${who} will be left out of future imports (always ignored), and is excluded from this one. ${later}`;
      } else {
        status.textContent = `${who} will be left out of future imports (always ignored). ${status.textContent}`;
      }
    } catch (e) {
      if (this.app.handleAuthError(e)) return;
      status.textContent = `${who} could not be ignored. ${describeError(e, {
        conflict: 'A sync is running: try again once it has finished.',
      })}`;
      setBusy(button, false);
    }
  }

  hide() {
    show($('preview'), false);
    this.sync = null;
  }

  async loadChanges() {
    if (!this.sync) return;
    const seq = ++this.loadSeq;
    const tab = tabs.find((t) => t.id === this.active);
    const status = $('change-status');
    status.textContent = 'Loading…';
    this.panel.setAttribute('aria-busy', 'true');
    try {
      const page = await this.api.listChanges(this.sync.id, {
        ...tab.filter, q: this.q, limit: pageSize, cursor: this.pager.cursor,
      });
      if (seq !== this.loadSeq) return; // a newer request replaced this one
      replace(this.tbody, page.items.map((ch) => this.row(ch)));
      this.pager.update(page.nextCursor);
      if (page.items.length === 0) {
        status.textContent = this.q ? `Nothing matches “${this.q}”.` : emptyText[tab.id];
      } else {
        const first = this.pager.index * pageSize + 1;
        status.textContent = `${range(first, page.items.length)}${this.q ? ` matching “${this.q}”` : ''}.`;
      }
    } catch (e) {
      if (seq !== this.loadSeq || this.app.handleAuthError(e)) return;
      replace(this.tbody);
      status.textContent = `The changes could not be loaded. ${describeError(e, { gone: 'This preview has expired.' })}`;
    } finally {
      if (seq === this.loadSeq) this.panel.setAttribute('aria-busy', 'false');
    }
  }

  /**
   * download saves the current tab's changes (with the search applied) as
   * the API's CSV: fetched with the token, then handed to the browser as a
   * file, since a plain link could not carry the bearer token.
   */
  async download() {
    if (!this.sync) return;
    const tab = tabs.find((t) => t.id === this.active);
    const button = $('change-download');
    const status = $('change-download-status');
    const what = `the ${tab.label} tab${this.q ? ` matching “${this.q}”` : ''}`;
    setBusy(button, true);
    status.textContent = `Preparing the CSV of ${what}…`;
    try {
      const parts = await this.api.exportChanges(this.sync.id, { ...tab.filter, q: this.q }, (n) => {
        if (n > 1) status.textContent = `Preparing the CSV of ${what}… (${n} parts read)`;
      });
      const name = `sync-${this.sync.id}-${tab.id}${this.q ? '-search' : ''}.csv`;
      const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv;charset=utf-8' }));
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      // The browser reads the blob after the click returns.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = `Downloaded ${name}: the changes of ${what}.`;
    } catch (e) {
      if (this.app.handleAuthError(e)) return;
      status.textContent = `The CSV could not be downloaded. ${describeError(e, {
        unprocessable: 'The service did not read the changes in time: try again, or narrow the export with the search.',
        gone: 'This preview has expired.',
      })}`;
    } finally {
      setBusy(button, false);
    }
  }

  row(ch) {
    return h('tr', { dataset: { kind: ch.kind, seq: ch.seq }, class: ch.excluded ? 'excluded' : null }, ...this.cells(ch));
  }

  cells(ch) {
    const s = ch.subject || {};
    const who = s.displayName || s.email || `change ${ch.seq}`;
    let action = null;
    if (!this.readOnly && ch.kind !== 'skip') {
      const button = h('button', {
        type: 'button', class: 'exclude', 'aria-label': `${ch.excluded ? 'Include' : 'Exclude'} ${who}`,
      }, ch.excluded ? 'Include again' : 'Exclude');
      button.addEventListener('click', () => this.setExcluded(ch, !ch.excluded, button.closest('tr')));
      action = [button];
      if (ch.objectType === 'user' && s.externalId) {
        const ignored = this.ignoredIds().has(s.externalId.toLowerCase());
        const ignore = h('button', {
          type: 'button', class: 'ignore', 'aria-label': `Always ignore ${who} in future imports`,
          disabled: ignored ? true : null,
        }, ignored ? 'Always ignored' : 'Always ignore');
        ignore.addEventListener('click', () => this.alwaysIgnore(ch, ignore.closest('tr')));
        action.push(ignore);
      }
    }
    return [
      h('td', { dataset: { label: 'Name' } }, s.displayName || '(no name)'),
      h('td', { dataset: { label: 'Email' }, class: 'email' }, s.email || '–'),
      h('td', { dataset: { label: 'Details' } }, h('div', { class: 'details' }, details(ch))),
      h('td', { dataset: { label: 'Import' }, class: 'action' }, action ? h('div', { class: 'row-actions' }, action) : null),
    ];
  }

  /** ignoredIds are the connection's ignored users, as last read. */
  ignoredIds() {
    const o = (this.app.connection && this.app.connection.options) || {};
    return new Set(o.ignoredUsers || []);
  }
}

/** details describes what a change does: fields before → after, or why. */
export function details(ch) {
  const parts = [];
  if (ch.excluded) parts.push(h('span', { class: 'badge bad excluded-badge' }, 'Excluded: not applied'));
  if (ch.objectType === 'group') parts.push(h('span', { class: 'badge' }, groupKindLabels[ch.kind] || ch.kind));
  else if (ch.kind === 'add') parts.push(h('span', { class: 'badge' }, 'New user'));
  if (ch.reason) parts.push(h('p', { class: 'reason' }, reason(ch.reason)));
  if (ch.fields && ch.fields.length > 0) {
    parts.push(h('ul', { class: 'fields' }, ch.fields.map((f) => h('li', { dataset: { field: f.name } },
      h('span', { class: 'field-name' }, fieldLabel(f.name)), ': ',
      h('span', { class: 'visually-hidden' }, 'from '),
      h('span', { class: f.before ? 'before' : 'before empty' }, f.before || '(empty)'),
      h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → '),
      h('span', { class: 'visually-hidden' }, ' to '),
      h('span', { class: f.after ? 'after' : 'after empty' }, f.after || '(empty)')))));
  }
  if (ch.outcome) {
    parts.push(h('p', { class: `outcome outcome-${ch.outcome}` },
      outcome(ch.outcome), ch.outcomeReason ? `: ${ch.outcomeReason}` : ''));
  }
  return parts;
}
