// The running apply: progress bar, processed / total, rate and time
// remaining, then a summary listing failures and conflicts.

import { describeError } from './api.js';
import { $, h, replace, setBusy, show } from './dom.js';
import { count, dateTime, duration, percent, plural, rate, syncError, syncStatus } from './format.js';
import { details } from './preview.js';
import { RateMeter, percentOf, secondsRemaining } from './progress.js';

const problemsShown = 50;

const finishedText = {
  COMPLETED: 'Import finished: every change was applied.',
  COMPLETED_WITH_ERRORS: 'Import finished with errors: the changes listed below were not applied.',
  FAILED: 'The import failed. What was applied before the failure stays applied.',
  CANCELLED: 'The import was stopped. What was applied before it stopped stays applied.',
};

/** averageRate is the whole run's rate once it finished, or '–'. */
function averageRate(p) {
  if (!p.startedAt || !p.finishedAt) return '–';
  const seconds = (Date.parse(p.finishedAt) - Date.parse(p.startedAt)) / 1000;
  if (!(seconds > 0)) return '–';
  return `${rate(p.processed / seconds)} on average`;
}

export class ApplyView {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.sync = null;
    this.meter = new RateMeter(10000);
    this.lastAnnounced = -1;
    this.stopButton = $('stop-apply');
    this.stopButton.addEventListener('click', () => this.stop());
  }

  /** begin shows the panel for a sync that is applying or finished. */
  begin(sync) {
    const fresh = !this.sync || this.sync.id !== sync.id;
    this.sync = sync;
    if (fresh) {
      this.meter = new RateMeter(10000);
      this.lastAnnounced = -1;
      show($('summary'), false);
    }
    $('apply-title').textContent = sync.status === 'APPLYING' ? 'Applying the import' : 'Import result';
    show($('apply-actions'), sync.status === 'APPLYING');
    show($('apply'), true);
    if (sync.progress) this.update(sync.progress, Date.now());
  }

  hide() {
    show($('apply'), false);
    this.sync = null;
  }

  /** update shows one progress reading taken at nowMs. */
  update(p, nowMs) {
    this.meter.add(nowMs, p.processed);
    const pct = p.total > 0 ? (typeof p.percent === 'number' ? p.percent : percentOf(p.processed, p.total)) : (p.finishedAt ? 100 : 0);
    const bar = $('apply-bar');
    bar.max = Math.max(1, p.total);
    bar.value = p.total > 0 ? Math.min(p.processed, p.total) : (p.finishedAt ? 1 : 0);
    const running = p.status === 'APPLYING';
    // Nothing processed yet is no rate at all, not a rate of zero.
    const r = running && p.processed > 0 ? this.meter.rate() : null;
    $('apply-text').textContent = `${count(p.processed)} of ${plural(p.total, 'change', 'changes')} processed (${percent(pct)})`;
    $('apply-processed').textContent = `${count(p.processed)} / ${count(p.total)}`;
    $('apply-rate').textContent = running ? rate(r) : averageRate(p);
    $('apply-eta').textContent = running ? duration(secondsRemaining(p.total, p.processed, r)) : 'none';
    $('apply-succeeded').textContent = count(p.succeeded);
    $('apply-failed').textContent = count(p.failed);
    $('apply-conflicts').textContent = count(p.conflicts);
    // Screen readers hear every tenth of the way, not every poll.
    const step = Math.floor(pct / 10);
    if (step !== this.lastAnnounced) {
      this.lastAnnounced = step;
      $('apply-live').textContent = `${percent(pct)} done.`;
    }
  }

  /** finish shows the summary of a finished sync. */
  async finish(sync) {
    this.sync = sync;
    $('apply-title').textContent = 'Import result';
    show($('apply-actions'), false);
    if (sync.progress) this.update(sync.progress, Date.now());
    const p = sync.progress || { succeeded: 0, failed: 0, conflicts: 0, processed: 0, total: 0 };
    const banner = $('summary-banner');
    banner.className = `banner ${sync.status === 'COMPLETED' ? 'success' : 'warning'}`;
    replace(banner,
      h('strong', {}, finishedText[sync.status] || syncStatus(sync.status)),
      h('p', {}, `${plural(p.succeeded, 'change', 'changes')} applied, ${count(p.failed)} failed, ${plural(p.conflicts, 'conflict', 'conflicts')}.`
        + (sync.confirmedBy ? ` Confirmed by ${sync.confirmedBy} on ${dateTime(sync.confirmedAt)}.` : '')
        + (p.finishedAt ? ` Finished ${dateTime(p.finishedAt)}.` : '')),
      sync.error ? h('p', {}, syncError(sync.error)) : null);
    $('apply-live').textContent = finishedText[sync.status] || syncStatus(sync.status);
    show($('summary'), true);

    const box = $('summary-problems');
    replace(box);
    const sections = [];
    if (p.failed > 0) sections.push(['failed', 'Failures', 'These changes could not be applied.']);
    if (p.conflicts > 0) sections.push(['conflict', 'Conflicts', 'These users changed here after the preview, so the import left them untouched. Import again to pick up the current state.']);
    for (const [outcomeCode, title, intro] of sections) {
      const list = h('ul', { class: 'problems', dataset: { outcome: outcomeCode } });
      box.append(h('h4', {}, title), h('p', {}, intro), list);
      try {
        const page = await this.api.listChanges(sync.id, { outcome: outcomeCode, limit: problemsShown });
        for (const ch of page.items) {
          const s = ch.subject || {};
          list.append(h('li', {}, h('strong', {}, s.displayName || s.email || ch.subject.externalId),
            s.email ? ` (${s.email})` : '', details(ch)));
        }
        if (page.nextCursor) list.append(h('li', {}, `… and more; the first ${problemsShown} are shown.`));
      } catch (e) {
        if (this.app.handleAuthError(e)) return;
        list.append(h('li', {}, `The list could not be loaded. ${describeError(e)}`));
      }
    }
  }

  async stop() {
    if (!this.sync) return;
    setBusy(this.stopButton, true);
    try {
      await this.api.cancelSync(this.sync.id);
      this.app.notice('Stopping the import. What was applied so far stays applied.', 'info');
    } catch (e) {
      if (!this.app.handleAuthError(e)) {
        this.app.notice(`The import could not be stopped. ${describeError(e, {
          conflict: 'The import is no longer running.',
        })}`);
      }
    } finally {
      setBusy(this.stopButton, false);
    }
  }
}
