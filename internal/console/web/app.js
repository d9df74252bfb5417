// The "Import from Azure AD" page: sign-in, then connection, import
// (preview -> confirm -> progress), history and users.

import { Api, ApiError, NetworkError, apiBase, describeError } from './api.js';
import { ApplyView } from './apply.js';
import { ConnectionView } from './connection.js';
import { $, h, replace, setBusy, show, sleep } from './dom.js';
import { count, plural, syncError } from './format.js';
import { HistoryView } from './history.js';
import { PreviewView, trippedSafeguards } from './preview.js';
import { claimsOf, tokenFromFragment } from './session.js';
import { UsersView } from './users.js';

const tokenKey = 'dirsync.adminToken';
const pollMs = 1000;
// Transient failures (throttling, network) while polling are retried this
// many times in a row before the page gives up and says so.
const maxPollFailures = 30;

class App {
  constructor() {
    this.token = '';
    this.api = new Api(apiBase(document), () => this.token);
    // Each started flow (import, opened sync) gets a number; a poll loop
    // stops as soon as a newer flow replaced it.
    this.flow = 0;
    this.connection = null;
    this.connectionView = new ConnectionView(this);
    this.preview = new PreviewView(this);
    this.apply = new ApplyView(this);
    this.history = new HistoryView(this);
    this.users = new UsersView(this);
    this.bindSignIn();
    this.bindImport();
    this.bindDialog();
  }

  start() {
    this.takeTokenFromUrl();
    // A link with another token opened in this tab changes only the fragment.
    window.addEventListener('hashchange', () => {
      if (this.takeTokenFromUrl()) this.enter();
    });
    this.token = sessionStorage.getItem(tokenKey) || '';
    if (this.token) this.enter();
    else this.showSignIn('');
  }

  /** takeTokenFromUrl stores a #token=<jwt> fragment and drops it from the address bar. */
  takeTokenFromUrl() {
    const fromUrl = tokenFromFragment(window.location.hash);
    if (!fromUrl) return false;
    sessionStorage.setItem(tokenKey, fromUrl);
    this.token = fromUrl;
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return true;
  }

  // --- sign-in ---

  bindSignIn() {
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const value = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
      const err = $('token-error');
      if (!claimsOf(value)) {
        err.textContent = 'This is not an admin token: paste the whole token (three parts separated by dots).';
        err.hidden = false;
        $('token-input').setAttribute('aria-invalid', 'true');
        $('token-input').focus();
        return;
      }
      err.hidden = true;
      $('token-input').removeAttribute('aria-invalid');
      $('token-input').value = '';
      sessionStorage.setItem(tokenKey, value);
      this.token = value;
      this.enter();
    });
    $('sign-out').addEventListener('click', () => this.signOut(''));
  }

  showSignIn(message) {
    this.flow += 1;
    show($('app'), false);
    show($('session'), false);
    show($('signin'), true);
    this.notice(message);
    $('token-input').focus();
  }

  signOut(message) {
    sessionStorage.removeItem(tokenKey);
    this.token = '';
    this.showSignIn(message);
  }

  enter() {
    const claims = claimsOf(this.token) || {};
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
      this.signOut('Your admin token has expired. Paste a new one.');
      return;
    }
    $('session-who').textContent = `Signed in as ${claims.email || claims.sub || 'administrator'}`;
    show($('session'), true);
    show($('signin'), false);
    show($('app'), true);
    this.notice('');
    this.connectionView.load();
    this.history.load();
    this.users.load();
    this.resume();
  }

  /**
   * handleAuthError deals with an error about the admin's token or role:
   * it answers true when the admin must sign in again (the caller stops).
   */
  handleAuthError(err) {
    if (err instanceof ApiError && err.code === 'unauthorized') {
      this.signOut(describeError(err));
      return true;
    }
    if (err instanceof ApiError && err.code === 'forbidden') {
      // Every section would say the same: say it once, at the top.
      this.notice(describeError(err));
    }
    return false;
  }

  /** notice shows a page-level message ('' hides it). */
  notice(message, kind = 'error') {
    const el = $('notice');
    if (!message) {
      show(el, false);
      replace(el);
      return;
    }
    el.className = `notice ${kind}`;
    replace(el, h('p', {}, message),
      h('button', { type: 'button', class: 'link-button', onclick: () => this.notice('') }, 'Dismiss'));
    show(el, true);
  }

  connectionChanged(conn) {
    this.connection = conn;
    $('start-import').disabled = !conn;
    $('start-import').title = conn ? '' : 'Save a connection first';
    $('full-read').disabled = !conn;
  }

  // --- import: preview, confirm, progress ---

  bindImport() {
    $('start-import').addEventListener('click', () => this.startImport());
    $('review-confirm').addEventListener('click', () => this.openConfirm());
    $('discard-preview').addEventListener('click', () => this.discard());
  }

  /** resume picks up the newest sync when it is still in progress or ready. */
  async resume() {
    try {
      const page = await this.api.listSyncs({ limit: 1 });
      const latest = page.items[0];
      if (latest && ['PREVIEWING', 'PREVIEW_READY', 'APPLYING'].includes(latest.status)) this.openSync(latest.id, false);
    } catch (e) {
      this.handleAuthError(e);
    }
  }

  async startImport() {
    const button = $('start-import');
    const fullRead = $('full-read');
    setBusy(button, true);
    fullRead.disabled = true;
    this.notice('');
    try {
      const started = await this.api.startSync(fullRead.checked);
      // A full read is asked for once: the next import reads the changes again.
      fullRead.checked = false;
      this.history.load();
      await this.follow(started.id, true);
    } catch (e) {
      if (!this.handleAuthError(e)) {
        this.notice(describeError(e, {
          conflict: 'Another import is already running for your organisation. Wait for it to finish, or open it from the sync history.',
          unprocessable: 'Save a connection to Entra ID before importing.',
        }));
      }
    } finally {
      setBusy(button, false);
      button.disabled = !this.connection;
      fullRead.disabled = !this.connection;
    }
  }

  /**
   * undoSync starts the undo of an applied sync and follows its preview,
   * which is reviewed and confirmed like any other.
   */
  async undoSync(id) {
    this.notice('');
    try {
      const started = await this.api.undoSync(id);
      this.history.load();
      await this.follow(started.id, true);
      $('import').scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      if (!this.handleAuthError(e)) {
        this.notice(describeError(e, {
          conflict: 'This import can no longer be undone: a later import was applied, or another import is running.',
          gone: 'This import finished too long ago to be undone.',
        }));
      }
    }
  }

  /** openSync shows any sync (from the history or on load). */
  async openSync(id, scroll = true) {
    await this.follow(id, false);
    if (scroll) $('import').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  /**
   * follow shows a sync and keeps polling it until it needs the admin
   * (PREVIEW_READY) or it is over.
   */
  async follow(id, justStarted) {
    const flow = ++this.flow;
    this.preview.hide();
    this.apply.hide();
    show($('preview-busy'), justStarted);
    let failures = 0;
    for (;;) {
      let sync;
      try {
        sync = await this.api.getSync(id);
        failures = 0;
      } catch (e) {
        if (flow !== this.flow) return;
        if (this.handleAuthError(e)) return;
        if (isTransient(e) && ++failures < maxPollFailures) {
          this.notice(`${describeError(e)} Still trying…`, 'info');
          await sleep(pollMs * Math.min(failures, 5));
          continue;
        }
        show($('preview-busy'), false);
        this.notice(describeError(e));
        return;
      }
      if (flow !== this.flow) return;
      if (failures === 0) this.clearInfoNotice();
      switch (sync.status) {
        case 'PREVIEWING':
          show($('preview-busy'), true);
          await sleep(pollMs);
          if (flow !== this.flow) return;
          continue;
        case 'PREVIEW_READY':
          show($('preview-busy'), false);
          this.preview.render(sync);
          if (justStarted) $('preview-title').focus();
          this.history.load();
          return;
        case 'PREVIEW_FAILED':
          show($('preview-busy'), false);
          this.notice(`The preview failed. ${syncError(sync.error)}`);
          this.history.load();
          return;
        case 'APPLYING':
          show($('preview-busy'), false);
          await this.watchApply(sync, flow);
          return;
        default:
          show($('preview-busy'), false);
          if (sync.confirmedAt) {
            this.apply.begin(sync);
            await this.apply.finish(sync);
          } else {
            this.preview.render(sync, { readOnly: true });
          }
          return;
      }
    }
  }

  clearInfoNotice() {
    if ($('notice').classList.contains('info')) this.notice('');
  }

  /** watchApply polls the progress counter until the apply is over. */
  async watchApply(sync, flow) {
    this.apply.begin(sync);
    let failures = 0;
    for (;;) {
      let p;
      try {
        p = await this.api.getProgress(sync.id);
        failures = 0;
        this.clearInfoNotice();
      } catch (e) {
        if (flow !== this.flow || this.handleAuthError(e)) return;
        if (isTransient(e) && ++failures < maxPollFailures) {
          this.notice(`${describeError(e)} Still trying…`, 'info');
          await sleep(pollMs * Math.min(failures, 5));
          continue;
        }
        this.notice(`The progress could not be read. ${describeError(e)}`);
        return;
      }
      if (flow !== this.flow) return;
      this.apply.update(p, Date.now());
      if (p.status !== 'APPLYING') break;
      await sleep(pollMs);
      if (flow !== this.flow) return;
    }
    // The sync item carries the final status, who confirmed and any error.
    try {
      const final = await this.api.getSync(sync.id);
      if (flow !== this.flow) return;
      await this.apply.finish(final);
    } catch (e) {
      if (!this.handleAuthError(e)) this.notice(`The import finished, but its summary could not be loaded. ${describeError(e)}`);
    }
    this.history.load();
    this.users.load();
  }

  async discard() {
    const sync = this.preview.sync;
    if (!sync) return;
    const button = $('discard-preview');
    setBusy(button, true);
    try {
      await this.api.cancelSync(sync.id);
      this.flow += 1;
      this.preview.hide();
      this.notice('The preview was discarded. Nothing was changed.', 'info');
      $('start-import').focus();
      this.history.load();
    } catch (e) {
      if (!this.handleAuthError(e)) {
        this.notice(`The preview could not be discarded. ${describeError(e, {
          conflict: 'This preview is no longer waiting for a decision. Refresh the sync history to see where it is.',
        })}`);
      }
    } finally {
      setBusy(button, false);
    }
  }

  // --- the confirmation dialog ---

  bindDialog() {
    const dialog = $('confirm-dialog');
    $('confirm-cancel').addEventListener('click', () => dialog.close('cancel'));
    $('allow-deactivations').addEventListener('change', () => this.updateConfirmButton());
    $('confirm-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.confirm();
    });
    // Escape closes a modal <dialog> natively (the cancel event); focus goes
    // back to the button that opened it.
    dialog.addEventListener('close', () => {
      const back = $('review-confirm');
      if (!$('preview').hidden && !back.closest('[hidden]')) back.focus();
    });
  }

  openConfirm() {
    const sync = this.preview.sync;
    if (!sync) return;
    const u = sync.counts.users;
    const g = sync.counts.groups;
    const rows = [
      ['add', 'Users to insert', u.add],
      ['update', 'Users to update', u.update],
      ['deactivate', 'Users to deactivate', u.deactivate],
      ['reactivate', 'Users to reactivate', u.reactivate],
      ['groups', 'Groups to add, update or remove', g.add + g.update + g.remove],
      ['skip', 'Skipped (left as they are)', u.skip],
      ['excluded', 'Excluded by you (not applied)', (u.excluded || 0) + (g.excluded || 0)],
    ];
    replace($('confirm-totals'), rows.map(([kind, label, n]) =>
      h('div', { dataset: { total: kind } }, h('dt', {}, label), h('dd', {}, count(n)))));
    const tripped = trippedSafeguards(sync);
    const consent = $('confirm-consent');
    show(consent, tripped.length > 0);
    $('allow-deactivations').checked = false;
    if (tripped.length > 0) {
      const g = sync.counts.groups, m = sync.counts.memberships;
      const losses = [
        u.deactivate > 0 && `deactivates ${plural(u.deactivate, 'user', 'users')}`,
        g.remove > 0 && `removes ${plural(g.remove, 'group', 'groups')}`,
        m.remove > 0 && `removes ${plural(m.remove, 'group membership', 'group memberships')}`,
      ].filter(Boolean).join(', ');
      $('confirm-consent-text').textContent =
        `A safeguard tripped: this import ${losses}, more than your threshold allows.`;
      $('allow-deactivations-label').textContent =
        'I have checked the lists and want to apply these deactivations and removals.';
    }
    show($('confirm-error'), false);
    this.updateConfirmButton();
    const dialog = $('confirm-dialog');
    dialog.showModal();
    // Start on the safe choice; the consent box comes first when needed.
    (tripped.length > 0 ? $('allow-deactivations') : $('confirm-cancel')).focus();
  }

  updateConfirmButton() {
    const needsConsent = !$('confirm-consent').hidden;
    $('confirm-ok').disabled = needsConsent && !$('allow-deactivations').checked;
  }

  async confirm() {
    const sync = this.preview.sync;
    if (!sync) return;
    const button = $('confirm-ok');
    const err = $('confirm-error');
    const consent = !$('confirm-consent').hidden && $('allow-deactivations').checked;
    setBusy(button, true);
    show(err, false);
    try {
      await this.api.confirmSync(sync.id, consent);
      $('confirm-dialog').close('confirm');
      const flow = ++this.flow;
      this.preview.hide();
      this.history.load();
      const applying = await this.api.getSync(sync.id);
      if (flow !== this.flow) return;
      if (applying.status === 'APPLYING') {
        const watching = this.watchApply(applying, flow);
        $('apply-title').focus();
        await watching;
      } else {
        await this.follow(sync.id, false);
      }
    } catch (e) {
      if (this.handleAuthError(e)) {
        $('confirm-dialog').close('cancel');
        return;
      }
      err.textContent = describeError(e, {
        conflict: 'This preview can no longer be confirmed: it was confirmed, discarded or replaced meanwhile.',
        gone: 'This preview has expired. Close this dialog and start a new import.',
        unprocessable: 'A safeguard tripped: tick the consent box to deactivate these users.',
      });
      show(err, true);
    } finally {
      setBusy(button, false);
      this.updateConfirmButton();
    }
  }
}

function isTransient(e) {
  return e instanceof NetworkError || (e instanceof ApiError && (e.status === 429 || e.status === 502 || e.status === 503 || e.status === 504));
}

new App().start();
