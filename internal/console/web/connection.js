// Connection settings: the app registration, the sync options and the
// connection test.

import { ApiError, describeError } from './api.js';
import { $, h, replace, setBusy, show } from './dom.js';
import { dateTime, plural } from './format.js';
import { GroupPicker, guidPattern } from './grouppicker.js';

const minSecretLength = 16;

const checkLabels = {
  token: 'Get a token from Entra ID',
  read_user: 'Read a user',
  read_group: 'Read a group',
};

// Inputs that a field path of an API message can name.
const fieldInputs = {
  directoryTenantId: 'directoryTenantId',
  clientId: 'clientId',
  clientSecret: 'clientSecret',
  cloud: 'cloud',
  'options.scope.groups': 'scopeGroups',
  'options.deactivationThreshold.percent': 'thresholdPercent',
  'options.deactivationThreshold.count': 'thresholdCount',
};

/**
 * validateConnection checks the form values and returns {input, errors}:
 * the PUT /v1/connection body and a map of input id to message.
 * existing is the stored connection (null when there is none).
 */
export function validateConnection(values, existing) {
  const errors = {};
  const directoryTenantId = values.directoryTenantId.trim();
  const clientId = values.clientId.trim();
  const secret = values.clientSecret;
  if (!guidPattern.test(directoryTenantId)) {
    errors.directoryTenantId = 'Enter the directory (tenant) ID as a GUID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47.';
  }
  if (!guidPattern.test(clientId)) {
    errors.clientId = 'Enter the application (client) ID as a GUID, from the app registration’s overview.';
  }
  const secretNeeded = !existing || (existing.clientId || '').toLowerCase() !== clientId.toLowerCase();
  if (secret === '' && secretNeeded) {
    errors.clientSecret = existing
      ? 'The client ID changed: enter that app’s client secret value.'
      : 'Enter the client secret value (not its ID).';
  } else if (secret !== '' && secret.length < minSecretLength) {
    errors.clientSecret = `A client secret value has at least ${minSecretLength} characters: check you copied the value, not the secret ID.`;
  }
  // The picker's ids, once each (the API refuses a group listed twice).
  const groups = [...new Set(values.scopeGroups.map((g) => g.trim().toLowerCase()).filter(Boolean))];
  const badGroup = groups.find((g) => !guidPattern.test(g));
  if (badGroup) errors.scopeGroups = `“${badGroup}” is not a group object ID (a GUID).`;
  const percentText = values.thresholdPercent.trim();
  const percent = percentText === '' ? 0 : Number(percentText);
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    errors.thresholdPercent = 'Enter a share between 0 and 100.';
  }
  const countText = values.thresholdCount.trim();
  const count = countText === '' ? 0 : Number(countText);
  if (!Number.isInteger(count) || count < 0) {
    errors.thresholdCount = 'Enter a whole number of users, 0 or more.';
  }
  const input = {
    directoryTenantId,
    clientId,
    cloud: values.cloud,
    options: {
      scope: { groups },
      includeGuests: values.includeGuests,
      deactivateMissing: values.deactivateMissing,
      deactivationThreshold: { percent, count },
      // The page does not edit the attribute mapping; send the stored one
      // back so saving keeps it.
      mapping: (existing && existing.options && existing.options.mapping) || [],
      // The ignored users are left out: the API keeps the stored list,
      // which can be far longer than a PUT body holds; removals are sent
      // after the PUT (ignoredRemovals).
    },
  };
  if (secret !== '') input.clientSecret = secret;
  return { input, errors };
}

/**
 * ignoredRemovals are the ids the connection ignores (as last read) that the
 * form no longer lists: the admin removed them, and saving imports them again.
 */
export function ignoredRemovals(existing, listed) {
  const kept = new Set(listed);
  const stored = (existing && existing.options && existing.options.ignoredUsers) || [];
  return stored.filter((id) => !kept.has(id));
}

/** maxIgnoredPerEdit is how many ids one POST /v1/connection/ignored-users takes. */
export const maxIgnoredPerEdit = 1000;

/** ignoredSummary says how many users imports leave out. */
export function ignoredSummary(n) {
  return n === 0
    ? 'No user is ignored: every user in scope is imported.'
    : `${plural(n, 'user is', 'users are')} always ignored.`;
}

/** fieldOfMessage finds the input an API message like "clientId: must be a GUID" names. */
export function fieldOfMessage(message) {
  const m = /^([A-Za-z.[\]0-9]+):/.exec(message || '');
  if (!m) return null;
  const path = m[1].replace(/\[\d+\]/g, '');
  return fieldInputs[path] || null;
}

export class ConnectionView {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.existing = null;
    this.dirty = false;
    this.ignored = [];
    this.form = $('connection-form');
    this.saveButton = $('save-connection');
    this.testButton = $('test-connection');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    this.form.addEventListener('input', () => {
      this.dirty = true;
    });
    this.testButton.addEventListener('click', () => this.test());
    this.picker = new GroupPicker({
      input: $('scopeGroups'),
      listbox: $('scopeGroups-listbox'),
      chips: $('scopeGroups-chips'),
      message: $('scopeGroups-message'),
      live: $('scopeGroups-live'),
      search: (q) => this.api.searchGroups(q),
      onChange: () => { this.dirty = true; },
      handleAuthError: (e) => this.app.handleAuthError(e),
    });
  }

  values() {
    const v = (id) => $(id).value;
    return {
      directoryTenantId: v('directoryTenantId'), clientId: v('clientId'), clientSecret: v('clientSecret'),
      cloud: v('cloud'), scopeGroups: this.picker.ids(), thresholdPercent: v('thresholdPercent'),
      thresholdCount: v('thresholdCount'), includeGuests: $('includeGuests').checked,
      deactivateMissing: $('deactivateMissing').checked, ignoredUsers: this.ignored,
    };
  }

  renderIgnored() {
    const list = $('ignoredUsers-list');
    $('ignoredUsers-summary').textContent = ignoredSummary(this.ignored.length);
    replace(list, this.ignored.map((id) => h('li', { class: 'chip', dataset: { ignored: id } },
      h('span', { class: 'chip-text' }, h('span', { class: 'chip-id mono' }, id)),
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': `Stop ignoring user ${id}`,
        onclick: () => this.removeIgnored(id),
      }, h('span', { 'aria-hidden': 'true' }, '×')))));
    list.hidden = this.ignored.length === 0;
  }

  removeIgnored(id) {
    const i = this.ignored.indexOf(id);
    if (i < 0) return;
    this.ignored = this.ignored.filter((x) => x !== id);
    this.dirty = true;
    this.renderIgnored();
    const buttons = $('ignoredUsers-list').querySelectorAll('.chip-remove');
    (buttons[Math.min(i, buttons.length - 1)] || this.saveButton).focus();
    $('ignoredUsers-summary').textContent = `User ${id} will be imported again once you save. ${ignoredSummary(this.ignored.length)}`;
  }

  async load() {
    try {
      this.fill(await this.api.getConnection());
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_found') {
        this.fill(null);
        return;
      }
      if (this.app.handleAuthError(e)) return;
      $('connection-state').textContent = `The connection could not be loaded. ${describeError(e)}`;
    }
  }

  fill(conn) {
    this.existing = conn;
    this.dirty = false;
    const o = (conn && conn.options) || {};
    $('directoryTenantId').value = conn ? conn.directoryTenantId : '';
    $('clientId').value = conn ? conn.clientId : '';
    $('clientSecret').value = '';
    $('cloud').value = conn ? conn.cloud : 'global';
    // Each scope group with its name (null when Entra ID could not say).
    const ids = (o.scope && o.scope.groups) || [];
    this.picker.set((conn && conn.scopeGroups) || ids.map((id) => ({ id, displayName: null })));
    $('includeGuests').checked = !!o.includeGuests;
    $('deactivateMissing').checked = !!o.deactivateMissing;
    this.ignored = [...(o.ignoredUsers || [])];
    this.renderIgnored();
    const t = o.deactivationThreshold || {};
    $('thresholdPercent').value = String(t.percent || 0);
    $('thresholdCount').value = String(t.count || 0);
    $('clientSecret').required = !conn;
    $('clientSecret').placeholder = conn && conn.secretHint ? `Stored secret ends in ${conn.secretHint}` : '';
    $('clientSecret-hint').textContent = conn
      ? `A secret ending in ${conn.secretHint || '…'} is stored${conn.secretSetAt ? ` (set ${dateTime(conn.secretSetAt)})` : ''}. Leave this empty to keep it. The secret is write-only and never shown.`
      : 'Write-only: it is kept in the secret store and never shown again.';
    $('connection-state').textContent = conn
      ? `Connected to directory ${conn.directoryTenantId}.`
      : 'Not connected yet. Enter your Entra ID app registration below, save it, then test it.';
    this.clearErrors();
    this.app.connectionChanged(conn);
  }

  clearErrors() {
    for (const el of this.form.querySelectorAll('.field-error')) {
      el.hidden = true;
      el.textContent = '';
    }
    for (const el of this.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  showErrors(errors) {
    let first = null;
    for (const [id, message] of Object.entries(errors)) {
      const input = $(id);
      const slot = document.getElementById(`${id}-error`);
      input.setAttribute('aria-invalid', 'true');
      if (slot) {
        slot.textContent = message;
        slot.hidden = false;
      }
      first = first || input;
    }
    if (first) first.focus();
  }

  async save() {
    this.picker.commitTyped();
    this.clearErrors();
    const status = $('connection-status');
    const { input, errors } = validateConnection(this.values(), this.existing);
    if (Object.keys(errors).length > 0) {
      status.textContent = 'Check the highlighted fields.';
      this.showErrors(errors);
      return;
    }
    setBusy(this.saveButton, true);
    status.textContent = 'Saving…';
    const removals = ignoredRemovals(this.existing, this.ignored);
    let saved = false;
    try {
      let conn = await this.api.putConnection(input);
      saved = true;
      for (let i = 0; i < removals.length; i += maxIgnoredPerEdit) {
        await this.api.editIgnoredUsers(removals.slice(i, i + maxIgnoredPerEdit), false);
      }
      if (removals.length > 0) conn = await this.api.getConnection();
      this.fill(conn);
      status.textContent = 'Connection saved. Test it to check the app registration’s permissions.';
      show($('connection-test'), false);
    } catch (e) {
      if (this.app.handleAuthError(e)) return;
      if (saved) {
        status.textContent = `The connection was saved, but the users you stopped ignoring are still ignored. ${describeError(e)}`;
        return;
      }
      status.textContent = `The connection was not saved. ${describeError(e)}`;
      const field = e instanceof ApiError ? fieldOfMessage(e.message) : null;
      if (field) this.showErrors({ [field]: e.message });
    } finally {
      setBusy(this.saveButton, false);
    }
  }

  async test() {
    const box = $('connection-test');
    const summary = $('connection-test-summary');
    const list = $('connection-checks');
    show(box, true);
    replace(list);
    setBusy(this.testButton, true);
    summary.textContent = this.dirty
      ? 'Testing the saved connection (save first to test your changes)…'
      : 'Testing the connection…';
    try {
      const result = await this.api.testConnection();
      const failed = result.checks.filter((c) => !c.ok).length;
      summary.textContent = result.ok
        ? 'All checks passed: the service can read your directory.'
        : `${failed} of ${result.checks.length} checks failed. Fix the app registration and test again.`;
      box.classList.toggle('ok', result.ok);
      box.classList.toggle('failed', !result.ok);
      for (const c of result.checks) {
        list.append(h('li', { class: c.ok ? 'check-ok' : 'check-failed', dataset: { check: c.name } },
          h('span', { class: 'check-icon', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
          h('span', { class: 'check-name' }, checkLabels[c.name] || c.name),
          h('span', { class: 'visually-hidden' }, c.ok ? ': passed.' : ': failed.'),
          c.message ? h('span', { class: 'check-message' }, c.message) : null));
      }
    } catch (e) {
      if (this.app.handleAuthError(e)) return;
      box.classList.remove('ok');
      box.classList.add('failed');
      summary.textContent = describeError(e, { not_found: 'There is no saved connection to test yet: save it first.' });
    } finally {
      setBusy(this.testButton, false);
    }
  }
}
