// The admin console's whole flow in headless Chromium, as an admin would
// click it: sign in, connect, test the connection, import, inspect the
// preview (an update's fields before -> after), exclude a change (the
// counts follow), confirm, watch the progress reach 100 %, see the users,
// then choose a scope group by name in the picker, save it and find it
// named after a reload, and undo the import. It runs once per viewport width against a running
// local stack and checks what the page shows against the API.
//
// Environment:
//   CONSOLE_URL             base URL serving the page at / (required)
//   CONSOLE_API_URL         base URL of the API (/v1/...) the flow checks the page against;
//                           default CONSOLE_URL (page and API on one origin)
//   CONSOLE_TOKEN           admin token; CONSOLE_TOKEN_<width> overrides it for one width
//                           (each width needs a tenant whose first import is still to come)
//   CONSOLE_WIDTHS          viewport widths, default "1280,390"
//   CONSOLE_DIRECTORY_ID, CONSOLE_CLIENT_ID, CONSOLE_CLIENT_SECRET
//                           when set, the flow enters this connection in the form;
//                           otherwise it keeps the stored one
//   CONSOLE_NONADMIN_TOKEN  optional: a valid token without the admin role; the page must
//                           say the account is not an administrator
//   CONSOLE_SAFEGUARD_WIDTHS widths at which the flow sets the deactivation safeguard to
//                           1 user, so it trips and the confirm needs the explicit consent
//                           (default "390")
//   CONSOLE_ARTIFACTS       folder for the screenshots, default <repo>/.artifacts/console
//   CHROMIUM_PATH           default /usr/bin/chromium
//
// Exits 0 when every step passed, 1 with the failing step's message otherwise.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const baseURL = (process.env.CONSOLE_URL || '').replace(/\/+$/, '');
const apiURL = (process.env.CONSOLE_API_URL || baseURL).replace(/\/+$/, '');
const widths = (process.env.CONSOLE_WIDTHS || '1280,390').split(',').map((w) => Number(w.trim())).filter(Boolean);
const safeguardWidths = new Set((process.env.CONSOLE_SAFEGUARD_WIDTHS ?? '390').split(',').map((w) => Number(w.trim())).filter(Boolean));
const artifacts = resolve(process.env.CONSOLE_ARTIFACTS || join(here, '..', '..', '.artifacts', 'console'));
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const nonAdminToken = process.env.CONSOLE_NONADMIN_TOKEN || '';
const connectionInput = process.env.CONSOLE_DIRECTORY_ID ? {
  directoryTenantId: process.env.CONSOLE_DIRECTORY_ID,
  clientId: process.env.CONSOLE_CLIENT_ID || '',
  clientSecret: process.env.CONSOLE_CLIENT_SECRET || '',
} : null;
// Chromium as this machine runs it: no sandbox (root), and no background
// traffic to the outside (the network is closed).
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const stepTimeout = 20000;
// The screenshots, numbered in the order of the flow at every width.
const shotNames = ['signin', 'connection-form', 'connection-tested', 'preview', 'update-fields', 'deactivations',
  'exclude', 'always-ignore', 'download', 'dialog', 'progress-running', 'progress-done', 'users', 'history', 'undo', 'undo-done', 'scope-picker', 'scope-chosen', 'signed-out'];

class StepError extends Error {}

function check(condition, message) {
  if (!condition) throw new StepError(message);
}

function tokenFor(width) {
  return process.env[`CONSOLE_TOKEN_${width}`] || process.env.CONSOLE_TOKEN || '';
}

/** api calls the HTTP API directly, to compare what the page shows with the source of truth. */
async function api(token, path) {
  const res = await fetch(apiURL + path, { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new StepError(`API ${path} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** parseCSV reads RFC 4180 text (quoted cells, doubled quotes, CRLF) into rows of cells. */
function parseCSV(csv) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i += 1) {
    const c = csv[i];
    if (quoted) {
      if (c === '"' && csv[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\r' && csv[i + 1] === '\n') {
      row.push(cell); rows.push(row); row = []; cell = ''; i += 1;
    } else cell += c;
  }
  check(cell === '' && row.length === 0, 'the CSV does not end with CRLF');
  return rows;
}

/** apiCount pages through a change listing to count every change it holds. */
async function apiCount(token, path) {
  let n = 0;
  for (let cursor = ''; ;) {
    const page = await api(token, `${path}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    n += page.items.length;
    if (!page.nextCursor) return n;
    cursor = page.nextCursor;
  }
}

const csvHeader = 'seq,objectType,kind,email,displayName,externalId,targetId,fields,reason,excluded,outcome,outcomeReason';

const text = (locator) => locator.innerText({ timeout: stepTimeout }).then((t) => t.replace(/\s+/g, ' ').trim());
const number = (s) => Number(String(s).replace(/[^0-9.]/g, ''));

async function run(width, index) {
  const token = tokenFor(width);
  check(token, `no admin token for width ${width}: set CONSOLE_TOKEN or CONSOLE_TOKEN_${width}`);
  const dir = join(artifacts, String(width));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport: { width, height: width >= 1000 ? 900 : 844 },
    deviceScaleFactor: 1,
    reducedMotion: 'reduce',
  });
  const problems = [];
  let shot = 0;
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(stepTimeout);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every 4xx answer as "Failed to load resource"; the
    // API's are expected (404 before a connection exists) and the steps
    // judge them. The page's own files are checked below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/v1/')) problems.push(`${r.url()} answered ${r.status()}`);
  });
  page.on('requestfailed', (r) => problems.push(`${r.url()} failed: ${r.failure() && r.failure().errorText}`));

  const snap = async (name, target) => {
    const n = shotNames.indexOf(name) + 1;
    check(n > 0, `no screenshot is named ${name}`);
    shot += 1;
    const file = join(dir, `${String(n).padStart(2, '0')}-${name}.png`);
    if (target) await target.screenshot({ path: file });
    else await page.screenshot({ path: file, fullPage: false });
    return file;
  };
  const step = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      await page.screenshot({ path: join(dir, `failed-${name}.png`), fullPage: true }).catch(() => {});
      const err = new StepError(`[${width} px] step "${name}": ${e.message}`);
      throw err;
    }
    check(problems.length === 0, `[${width} px] step "${name}": ${problems.join('; ')}`);
    // Nothing may be cut off or scroll sideways at this width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `[${width} px] step "${name}": the page is ${overflow} px wider than the viewport`);
  };

  try {
    await step('signin', async () => {
      if (index % 2 === 0) {
        // Paste the token into the sign-in field.
        await page.goto(`${baseURL}/`);
        await page.getByLabel('Paste your admin token').waitFor();
        await snap('signin');
        await page.getByLabel('Paste your admin token').fill(token);
        await page.getByRole('button', { name: 'Sign in' }).click();
      } else {
        // The link `make run` prints: the token in the fragment.
        await page.goto(`${baseURL}/#token=${token}`);
      }
      await page.locator('#session-who').filter({ hasText: 'Signed in as' }).waitFor();
      if (index % 2 !== 0) await snap('signin');
      check(!(await page.evaluate(() => window.location.hash.includes('token'))), 'the token stayed in the address bar');
      await page.locator('#connection-state').filter({ hasText: /Connected|Not connected/ }).waitFor();
    });

    await step('connect', async () => {
      const form = page.locator('#connection-form');
      if (connectionInput) {
        // A wrong id first: the form says what is wrong, in words.
        await page.getByLabel('Directory (tenant) ID').fill('not-a-guid');
        await page.getByRole('button', { name: 'Save connection' }).click();
        await page.locator('#directoryTenantId-error').filter({ hasText: 'GUID' }).waitFor();
        await page.getByLabel('Directory (tenant) ID').fill(connectionInput.directoryTenantId);
        await page.getByLabel('Application (client) ID').fill(connectionInput.clientId);
        await page.getByLabel('Client secret value').fill(connectionInput.clientSecret);
      }
      await page.getByLabel('Deactivate users who leave Entra ID').check();
      await page.getByLabel('Number of users').fill(safeguardWidths.has(width) ? '1' : '0');
      await snap('connection-form', form);
      await page.getByRole('button', { name: 'Save connection' }).click();
      await page.locator('#connection-status').filter({ hasText: 'Connection saved' }).waitFor();
      const conn = await api(token, '/v1/connection');
      check(conn.options.deactivateMissing === true, 'the saved connection does not deactivate missing users');
      if (connectionInput) {
        check(conn.directoryTenantId === connectionInput.directoryTenantId, `saved directory ${conn.directoryTenantId}`);
        check(conn.secretHint === connectionInput.clientSecret.slice(-4), 'the secret hint is not the secret\'s last 4 characters');
      }
      const state = await text(page.locator('#connection-state'));
      check(state.includes(conn.directoryTenantId), `connection state says "${state}"`);
      check(await page.getByLabel('Client secret value').inputValue() === '', 'the secret is shown back in the form');
    });

    await step('test-connection', async () => {
      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.locator('#connection-test-summary').filter({ hasText: 'All checks passed' }).waitFor();
      const checks = page.locator('#connection-checks li');
      const n = await checks.count();
      check(n >= 3, `only ${n} checks shown`);
      for (const name of ['token', 'read_user', 'read_group']) {
        const item = page.locator(`#connection-checks li[data-check="${name}"]`);
        check(await item.count() === 1, `check ${name} is not shown`);
        check((await item.getAttribute('class')) === 'check-ok', `check ${name} is not OK: ${await text(item)}`);
      }
      await snap('connection-tested', page.locator('#connection'));
    });

    let sync;
    await step('import', async () => {
      // Record whether the "computing" indicator is ever shown: it may be up
      // for less than a poll.
      await page.evaluate(() => {
        const busy = document.getElementById('preview-busy');
        window.busySeen = !busy.hidden;
        new MutationObserver(() => {
          if (!busy.hidden) window.busySeen = true;
        }).observe(busy, { attributes: true });
      });
      await page.getByRole('button', { name: 'Import from Azure AD' }).click();
      await page.locator('#preview').waitFor({ state: 'visible', timeout: 60000 });
      check(await page.evaluate(() => window.busySeen), 'the page never showed that the preview was being computed');
      const latest = await api(token, '/v1/syncs?limit=1');
      sync = await api(token, `/v1/syncs/${latest.items[0].id}`);
      check(sync.status === 'PREVIEW_READY', `sync status ${sync.status}`);
      const u = sync.counts.users;
      for (const kind of ['add', 'update', 'deactivate', 'reactivate', 'skip']) {
        const shown = number(await text(page.locator(`#preview-counts .count-${kind} .count-value`)));
        check(shown === u[kind], `the ${kind} count shows ${shown}, the API says ${u[kind]}`);
        const tab = number(await text(page.locator(`#tab-${kind} .tab-count`)));
        check(tab === u[kind], `the ${kind} tab shows ${tab}, the API says ${u[kind]}`);
      }
      check(u.add > 0 && u.update > 0 && u.deactivate > 0 && u.skip > 0,
        `the demo preview should add, update, deactivate and skip users: ${JSON.stringify(u)}`);
      // How Entra ID was read, as the API says.
      const readLine = await text(page.locator('#preview-read'));
      check(sync.readKind === 'full' || sync.readKind === 'delta', `the sync's readKind is ${sync.readKind}`);
      check(readLine.startsWith(sync.readKind === 'delta' ? 'Read only what changed' : 'Read all of Entra ID'),
        `the preview says "${readLine}" for a ${sync.readKind} read`);
      const tripped = sync.safeguards.some((g) => g.tripped);
      check(tripped === safeguardWidths.has(width), `safeguard tripped=${tripped} at ${width} px`);
      check(await page.locator('#safeguard-banner').isVisible() === tripped, 'the safeguard banner does not match the API');
      // What the admin sees first: the counts and the top of the list.
      await page.locator('#import').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await snap('preview');
    });

    await step('inspect-update', async () => {
      // Reach the Updated tab with the keyboard, as the tablist promises.
      await page.locator('[role="tab"][aria-selected="true"]').focus();
      for (let i = 0; i < 6; i += 1) {
        if (await page.locator('#tab-update').getAttribute('aria-selected') === 'true') break;
        await page.keyboard.press('ArrowRight');
      }
      check(await page.locator('#tab-update').getAttribute('aria-selected') === 'true', 'arrow keys did not reach the Updated tab');
      check(await page.evaluate(() => document.activeElement.id) === 'tab-update', 'focus did not follow the selected tab');
      const changes = await api(token, `/v1/syncs/${sync.id}/changes?kind=update&objectType=user&limit=25`);
      // Prefer an attribute that changed in Entra ID over the link made by email.
      const changed = (c) => c.fields.some((f) => f.before && f.after && f.before !== f.after);
      const withField = changes.items.find((c) => !c.reason && changed(c)) || changes.items.find(changed);
      check(withField, 'the API lists no update with a field changed from one value to another');
      const field = withField.fields.find((f) => f.before && f.after && f.before !== f.after);
      const row = page.locator(`#change-table tr[data-seq="${withField.seq}"]`);
      await row.waitFor();
      const item = row.locator(`li[data-field="${field.name}"]`);
      check(await text(item.locator('.before')) === field.before, `before shows "${await text(item.locator('.before'))}", want "${field.before}"`);
      check(await text(item.locator('.after')) === field.after, `after shows "${await text(item.locator('.after'))}", want "${field.after}"`);
      check((await text(item)).includes('→'), 'the field does not read before → after');
      // Search narrows the list to the person.
      await page.getByLabel('Search by name or email').first().fill(withField.subject.displayName);
      await page.locator('#change-search').getByRole('button', { name: 'Search' }).click();
      await page.locator('#change-status').filter({ hasText: 'matching' }).waitFor();
      const names = await page.locator('#change-table tbody tr td:first-child').allInnerTexts();
      check(names.length >= 1 && names.every((n) => n.includes(withField.subject.displayName)),
        `search for "${withField.subject.displayName}" shows ${JSON.stringify(names)}`);
      await snap('update-fields', page.locator('#change-panel'));
      await page.getByLabel('Search by name or email').first().fill('');
      await page.locator('#change-search').getByRole('button', { name: 'Search' }).click();
      await page.locator('#change-status').filter({ hasText: /^Showing [0-9]/ }).waitFor();
    });

    await step('skips-and-deactivations', async () => {
      for (const kind of ['skip', 'deactivate']) {
        await page.locator(`#tab-${kind}`).click();
        const changes = await api(token, `/v1/syncs/${sync.id}/changes?kind=${kind}&objectType=user&limit=25`);
        const first = changes.items[0];
        const row = page.locator(`#change-table tr[data-seq="${first.seq}"]`);
        await row.waitFor();
        const reason = await text(row.locator('.reason'));
        check(reason.length > 10 && !reason.includes('_'), `the ${kind} reason reads "${reason}"`);
        const rows = await page.locator('#change-table tbody tr').count();
        // The Skipped tab also lists the users the connection always ignores.
        const listed = sync.counts.users[kind] + (kind === 'skip' ? sync.counts.users.ignored : 0);
        check(rows === Math.min(25, listed), `${rows} ${kind} rows shown, the API counts ${listed}`);
      }
      await snap('deactivations', page.locator('#import'));
    });

    let excludedSeq;
    await step('exclude', async () => {
      // Exclude the first new user: it leaves the Added count, joins the
      // Excluded tab, and the API agrees.
      await page.locator('#tab-add').click();
      await page.locator('#change-panel[aria-labelledby="tab-add"][aria-busy="false"]').waitFor();
      const adds = await api(token, `/v1/syncs/${sync.id}/changes?kind=add&objectType=user&excluded=false&limit=25`);
      const first = adds.items[0];
      excludedSeq = first.seq;
      const row = page.locator(`#change-table tr[data-seq="${first.seq}"]`);
      await row.getByRole('button', { name: /^Exclude / }).click();
      await page.locator(`#change-table tr.excluded[data-seq="${first.seq}"]`).waitFor();
      await page.locator('#change-status').filter({ hasText: 'is excluded' }).waitFor();
      const after = await api(token, `/v1/syncs/${sync.id}`);
      check(after.counts.users.add === sync.counts.users.add - 1 && after.counts.users.excluded === 1,
        `after excluding one add the API counts ${JSON.stringify(after.counts.users)}`);
      const shownAdd = number(await text(page.locator('#preview-counts .count-add .count-value')));
      check(shownAdd === after.counts.users.add, `the add count shows ${shownAdd}, the API says ${after.counts.users.add}`);
      const shownExcluded = number(await text(page.locator('#tab-excluded .tab-count')));
      check(shownExcluded === 1, `the Excluded tab shows ${shownExcluded}`);
      const listed = await api(token, `/v1/syncs/${sync.id}/changes?excluded=true&limit=25`);
      check(listed.items.length === 1 && listed.items[0].seq === first.seq && listed.items[0].excluded, 'the API does not list the change as excluded');
      check(await page.evaluate(() => document.activeElement.textContent) === 'Include again', 'focus did not stay on the row\'s button');
      // The tabs (with the Excluded count) and the marked row at the top.
      await page.locator('#change-tabs').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await snap('exclude');
      // The Excluded tab lists it, and it can be included back and out again.
      await page.locator('#tab-excluded').click();
      await page.locator('#change-panel[aria-labelledby="tab-excluded"][aria-busy="false"]').waitFor();
      const excludedRow = page.locator(`#change-table tr[data-seq="${first.seq}"]`);
      await excludedRow.getByRole('button', { name: /^Include / }).click();
      await page.locator('#change-status').filter({ hasText: 'is included again' }).waitFor();
      check((await api(token, `/v1/syncs/${sync.id}`)).counts.users.excluded === 0, 'including it back did not reach the API');
      await excludedRow.getByRole('button', { name: /^Exclude / }).click();
      await page.locator(`#change-table tr.excluded[data-seq="${first.seq}"]`).waitFor();
      sync = await api(token, `/v1/syncs/${sync.id}`);
      check(sync.counts.users.excluded === 1, `the change is not excluded again: ${JSON.stringify(sync.counts.users)}`);
    });

    let ignoredId;
    await step('always-ignore', async () => {
      // "Always ignore" on an update: the connection now lists the user's
      // Entra object id, and the change is excluded from this preview.
      await page.locator('#tab-update').click();
      await page.locator('#change-panel[aria-labelledby="tab-update"][aria-busy="false"]').waitFor();
      const updates = await api(token, `/v1/syncs/${sync.id}/changes?kind=update&objectType=user&excluded=false&limit=25`);
      const target = updates.items[0];
      check(target && target.subject.externalId, 'the API lists no update to ignore');
      ignoredId = target.subject.externalId;
      const row = page.locator(`#change-table tr[data-seq="${target.seq}"]`);
      await row.getByRole('button', { name: /^Always ignore / }).click();
      await page.locator('#change-status').filter({ hasText: 'will be left out of future imports' }).waitFor();
      await page.locator(`#change-table tr.excluded[data-seq="${target.seq}"]`).waitFor();
      check(await row.getByRole('button', { name: /^Always ignore / }).isDisabled(), 'the row still offers "Always ignore"');
      const conn = await api(token, '/v1/connection');
      check(conn.options.ignoredUsers.includes(ignoredId.toLowerCase()), `the connection ignores ${JSON.stringify(conn.options.ignoredUsers)}, not ${ignoredId}`);
      if (connectionInput) check(conn.secretHint === connectionInput.clientSecret.slice(-4), 'the stored secret changed');
      const change = (await api(token, `/v1/syncs/${sync.id}/changes?excluded=true&limit=25`)).items.find((c) => c.seq === target.seq);
      check(change && change.excluded, 'the API does not list the ignored user\'s change as excluded');
      sync = await api(token, `/v1/syncs/${sync.id}`);
      check(sync.counts.users.excluded === 2, `after "Always ignore" the API counts ${JSON.stringify(sync.counts.users)}`);
      // The connection form says so.
      const summary = await text(page.locator('#ignoredUsers-summary'));
      check(summary.startsWith('1 user is always ignored'), `the connection form says "${summary}"`);
      check(await page.locator(`#ignoredUsers-list li[data-ignored="${ignoredId.toLowerCase()}"]`).count() === 1, 'the connection form does not list the ignored id');
      // The status sentence above the row, its buttons beside it.
      await page.locator('#change-status').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await snap('always-ignore');
    });

    await step('download-csv', async () => {
      // The Added tab's CSV holds every included add, on as many pages as
      // the API has; with a search, the matching ones.
      await page.locator('#tab-add').click();
      await page.locator('#change-panel[aria-labelledby="tab-add"][aria-busy="false"]').waitFor();
      const download = async () => {
        const [file] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download CSV' }).click(),
        ]);
        const path = join(dir, file.suggestedFilename());
        await file.saveAs(path);
        await page.locator('#change-download-status').filter({ hasText: 'Downloaded' }).waitFor();
        const rows = parseCSV(readFileSync(path, 'utf8'));
        check(rows.length > 0 && rows[0].join(',') === csvHeader, `the CSV's header is ${JSON.stringify(rows[0])}`);
        check(rows.every((r) => r.length === 12), 'a CSV row has not 12 cells');
        return { name: file.suggestedFilename(), rows: rows.slice(1) };
      };
      const all = await download();
      const want = await apiCount(token, `/v1/syncs/${sync.id}/changes?objectType=user&kind=add&excluded=false`);
      check(all.rows.length === want, `the Added CSV has ${all.rows.length} rows, the API lists ${want}`);
      check(all.rows.every((r) => r[1] === 'user' && r[2] === 'add' && r[9] === 'false'), 'the Added CSV holds other changes');
      check(all.name === `sync-${sync.id}-add.csv`, `the file is named ${all.name}`);
      // The search text goes with the download.
      const q = all.rows[0][4].split(' ')[0].replace(/^'/, '');
      await page.getByLabel('Search by name or email').first().fill(q);
      await page.locator('#change-search').getByRole('button', { name: 'Search' }).click();
      await page.locator('#change-status').filter({ hasText: 'matching' }).waitFor();
      const found = await download();
      const wantFound = await apiCount(token, `/v1/syncs/${sync.id}/changes?objectType=user&kind=add&excluded=false&q=${encodeURIComponent(q)}`);
      check(found.rows.length === wantFound && found.rows.length >= 1 && found.rows.length <= all.rows.length,
        `the CSV of the search "${q}" has ${found.rows.length} rows, the API lists ${wantFound}`);
      check(await page.getByRole('button', { name: 'Download CSV' }).isEnabled(), 'the button stays busy');
      await page.locator('#change-search').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await snap('download');
      await page.getByLabel('Search by name or email').first().fill('');
      await page.locator('#change-search').getByRole('button', { name: 'Search' }).click();
      await page.locator('#change-status').filter({ hasText: /^Showing [0-9]/ }).waitFor();
    });

    await step('dialog', async () => {
      const u = sync.counts.users;
      const tripped = sync.safeguards.some((g) => g.tripped);
      await page.getByRole('button', { name: 'Review and confirm…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Confirm the import' });
      await dialog.waitFor();
      for (const [kind, want] of [['add', u.add], ['update', u.update], ['deactivate', u.deactivate], ['excluded', u.excluded]]) {
        const shown = number(await text(dialog.locator(`[data-total="${kind}"] dd`)));
        check(shown === want, `the dialog's ${kind} total shows ${shown}, the API says ${want}`);
      }
      // Escape cancels and gives the focus back.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      check(await page.evaluate(() => document.activeElement.id) === 'review-confirm', 'focus did not return to the confirm button');
      await page.getByRole('button', { name: 'Review and confirm…' }).click();
      await dialog.waitFor();
      const confirmButton = dialog.getByRole('button', { name: 'Confirm import' });
      check(await page.locator('#confirm-consent').isVisible() === tripped, 'the consent box does not match the safeguard');
      if (tripped) {
        check(await confirmButton.isDisabled(), 'Confirm is enabled before the explicit consent');
        await dialog.getByRole('checkbox').check();
        check(await confirmButton.isEnabled(), 'Confirm stays disabled after the consent');
      }
      await snap('dialog');
    });

    await step('progress', async () => {
      await page.getByRole('dialog').getByRole('button', { name: 'Confirm import' }).click();
      await page.locator('#apply').waitFor({ state: 'visible' });
      await page.locator('#apply-text').filter({ hasText: /processed/ }).waitFor();
      await snap('progress-running', page.locator('#import'));
      await page.locator('#summary').waitFor({ state: 'visible', timeout: 90000 });
      const progress = await api(token, `/v1/syncs/${sync.id}/progress`);
      check(progress.status === 'COMPLETED', `the apply ended ${progress.status}: ${JSON.stringify(progress)}`);
      const excluded = await api(token, `/v1/syncs/${sync.id}/changes?excluded=true&limit=25`);
      check(excluded.items.length === 2 && excluded.items.some((c) => c.seq === excludedSeq) && excluded.items.every((c) => !c.outcome),
        `the excluded changes were applied: ${JSON.stringify(excluded.items)}`);
      const line = await text(page.locator('#apply-text'));
      check(line.includes('(100 %)'), `progress reads "${line}"`);
      check(number((await text(page.locator('#apply-processed'))).split('/')[0]) === progress.processed, 'processed differs from the API');
      check(number((await text(page.locator('#apply-processed'))).split('/')[1]) === progress.total, 'total differs from the API');
      const bar = await page.locator('#apply-bar').evaluate((b) => ({ value: b.value, max: b.max }));
      check(bar.value === bar.max, `the progress bar is at ${bar.value} of ${bar.max}`);
      check((await text(page.locator('#summary-banner'))).includes('Import finished'), 'no summary shown');
      await snap('progress-done', page.locator('#import'));
    });

    await step('users', async () => {
      await page.getByRole('link', { name: 'Users' }).click();
      await page.locator('#users').getByRole('button', { name: 'Refresh' }).click();
      const listed = await api(token, '/v1/users?limit=25');
      const imported = listed.items.find((u) => u.source === 'entra' && u.groups.length > 0);
      check(imported, 'the API lists no imported user with groups on the first page');
      const row = page.locator(`#users-table tr[data-user="${imported.id}"]`);
      await row.waitFor();
      const cells = await row.locator('td').allInnerTexts();
      check(cells[3].includes('Entra ID'), `source cell reads "${cells[3]}"`);
      for (const g of imported.groups) check(cells[4].includes(g.displayName), `groups cell "${cells[4]}" lacks ${g.displayName}`);
      const entraRows = await page.locator('#users-table tr[data-source="entra"]').count();
      check(entraRows >= 1, 'no user from Entra ID is listed');
      await snap('users', page.locator('#users'));
      await page.getByRole('link', { name: 'Sync history' }).click();
      const status = await text(page.locator(`#history-table tr[data-sync="${sync.id}"] td:nth-child(3)`));
      check(status === 'Completed', `history shows "${status}"`);
      // The lifecycle events published for the sync, as the API lists them.
      const detail = await api(token, `/v1/syncs/${sync.id}`);
      const published = detail.events.map((e) => e.type);
      check(published.includes('Preview Ready') && published.includes('Sync Completed'), `the sync lists events ${published.join(', ')}`);
      const shown = await page.locator(`#history-table tr[data-sync="${sync.id}"] ol.events .event-type`).allInnerTexts();
      check(shown.join('|') === published.join('|'), `history shows events "${shown.join(', ')}", want "${published.join(', ')}"`);
      const list = page.getByRole('list', { name: 'Lifecycle events' }).first();
      check(await list.isVisible(), 'the events list has no accessible name');
      await snap('history', page.locator('#history'));
    });

    await step('undo', async () => {
      // Undo the import from the history: its undo is a preview of the
      // inverse, reviewed and confirmed like any other.
      const row = page.locator(`#history-table tr[data-sync="${sync.id}"]`);
      await row.getByRole('button', { name: /^Undo/ }).click();
      await page.locator('#preview-title').filter({ hasText: 'Undo preview' }).waitFor({ timeout: 60000 });
      const latest = await api(token, '/v1/syncs?limit=1');
      const undo = await api(token, `/v1/syncs/${latest.items[0].id}`);
      check(undo.kind === 'undo' && undo.undoes === sync.id && undo.status === 'PREVIEW_READY',
        `the undo is ${JSON.stringify({ kind: undo.kind, undoes: undo.undoes, status: undo.status })}`);
      for (const kind of ['add', 'update', 'deactivate', 'reactivate']) {
        const shown = number(await text(page.locator(`#preview-counts .count-${kind} .count-value`)));
        check(shown === undo.counts.users[kind], `the undo's ${kind} count shows ${shown}, the API says ${undo.counts.users[kind]}`);
      }
      check(undo.counts.users.add === 0 && undo.counts.users.deactivate > 0, `the undo adds or deactivates nobody: ${JSON.stringify(undo.counts.users)}`);
      await page.locator('#import').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await snap('undo');
      await page.getByRole('button', { name: 'Review and confirm…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Confirm the import' });
      await dialog.waitFor();
      if (undo.safeguards.some((g) => g.tripped)) await dialog.getByRole('checkbox').check();
      await dialog.getByRole('button', { name: 'Confirm import' }).click();
      await page.locator('#summary').waitFor({ state: 'visible', timeout: 90000 });
      const progress = await api(token, `/v1/syncs/${undo.id}/progress`);
      check(['COMPLETED', 'COMPLETED_WITH_ERRORS'].includes(progress.status) && progress.processed === progress.total,
        `the undo ended ${JSON.stringify(progress)}`);
      await snap('undo-done', page.locator('#import'));
    });

    await step('scope-picker', async () => {
      // Choose a scope group by the start of its name, with the keyboard.
      // Several groups start with "all" (the divisions and All Staff); the
      // last of them by name is chosen, so the arrows have a way to go.
      const prefix = 'all';
      const wanted = 'All Staff';
      const found = await api(token, `/v1/connection/groups?q=${prefix}`);
      const pick = found.items.find((g) => g.displayName === wanted);
      check(found.items.length > 1 && pick, `the API finds no ${wanted} among several groups for "${prefix}": ${JSON.stringify(found)}`);
      await page.getByRole('link', { name: 'Connection' }).click();
      const combo = page.getByRole('combobox', { name: 'Only members of these groups' });
      await combo.evaluate((el) => el.closest('fieldset').scrollIntoView({ block: 'start' }));
      await combo.fill(prefix);
      const listbox = page.locator('#scopeGroups-listbox');
      await listbox.waitFor({ state: 'visible' });
      check(await combo.getAttribute('aria-expanded') === 'true', 'the open list is not announced (aria-expanded)');
      const options = listbox.getByRole('option');
      await page.waitForFunction((n) => document.querySelectorAll('#scopeGroups-listbox [role="option"]').length === n, found.items.length);
      for (const [i, g] of found.items.entries()) {
        const shown = await text(options.nth(i));
        check(shown.includes(g.displayName), `option ${i} reads "${shown}", the API says ${g.displayName}`);
        if (typeof g.memberCount === 'number') {
          check(shown.includes(`${g.memberCount.toLocaleString('en-US')} member`), `option ${g.displayName} reads "${shown}", the API counts ${g.memberCount}`);
        }
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the open list makes the page ${overflow} px wider than the viewport`);
      await snap('scope-picker');
      // Escape closes the list; ArrowDown opens it again.
      await page.keyboard.press('Escape');
      await listbox.waitFor({ state: 'hidden' });
      check(await combo.getAttribute('aria-expanded') === 'false', 'aria-expanded stays true after Escape');
      await page.keyboard.press('ArrowDown');
      await listbox.waitFor({ state: 'visible' });
      const index = found.items.indexOf(pick);
      for (let i = 0; i < index; i += 1) await page.keyboard.press('ArrowDown');
      const active = await combo.getAttribute('aria-activedescendant');
      check(active && (await text(page.locator(`#${active}`))).includes(wanted), `the arrows reached ${active}, not ${wanted}`);
      await page.keyboard.press('Enter');
      const chip = page.locator(`#scopeGroups-chips li[data-group="${pick.id}"]`);
      await chip.waitFor();
      check((await text(chip)).includes(wanted), `the chip reads "${await text(chip)}"`);
      check((await chip.locator('[title]').getAttribute('title')).includes(pick.id), 'the chip does not carry the group id');
      await listbox.waitFor({ state: 'hidden' });
      check(await combo.inputValue() === '', 'the search text stayed after choosing');

      await page.getByRole('button', { name: 'Save connection' }).click();
      await page.locator('#connection-status').filter({ hasText: 'Connection saved' }).waitFor();
      let conn = await api(token, '/v1/connection');
      check(JSON.stringify(conn.options.scope.groups) === JSON.stringify([pick.id]), `saved scope ${JSON.stringify(conn.options.scope.groups)}`);
      check(conn.scopeGroups.length === 1 && conn.scopeGroups[0].displayName === wanted, `named scope ${JSON.stringify(conn.scopeGroups)}`);

      // After a reload the stored id comes back as a chip with its name.
      await page.reload();
      await page.locator('#connection-state').filter({ hasText: 'Connected' }).waitFor();
      await chip.waitFor();
      check((await text(chip.locator('.chip-name'))) === wanted, 'the reloaded chip does not show the group\'s name');
      await chip.evaluate((el) => el.closest('fieldset').scrollIntoView({ block: 'start' }));
      await snap('scope-chosen', page.locator('#scopeGroups').locator('xpath=ancestor::fieldset'));

      // Removing the chip and saving goes back to all users.
      await chip.getByRole('button', { name: `Remove ${wanted} (${pick.id})` }).click();
      await chip.waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Save connection' }).click();
      await page.locator('#connection-status').filter({ hasText: 'Connection saved' }).waitFor();
      conn = await api(token, '/v1/connection');
      check(conn.options.scope.groups.length === 0 && conn.scopeGroups.length === 0, `scope after removal ${JSON.stringify(conn.options.scope)}`);
      // Saving the form kept the ignored user; removing it there and saving
      // imports that user again.
      check(JSON.stringify(conn.options.ignoredUsers) === JSON.stringify([ignoredId.toLowerCase()]), `saving the form left ignoredUsers ${JSON.stringify(conn.options.ignoredUsers)}`);
      await page.getByRole('button', { name: `Stop ignoring user ${ignoredId.toLowerCase()}` }).click();
      await page.locator('#ignoredUsers-summary').filter({ hasText: 'will be imported again once you save' }).waitFor();
      await page.getByRole('button', { name: 'Save connection' }).click();
      await page.locator('#connection-status').filter({ hasText: 'Connection saved' }).waitFor();
      conn = await api(token, '/v1/connection');
      check(conn.options.ignoredUsers.length === 0, `after removing it the connection ignores ${JSON.stringify(conn.options.ignoredUsers)}`);
    });

    await step('expired-token', async () => {
      // A token the API refuses is said in words, and the page asks to sign in again.
      const refused = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(43)}`;
      await page.evaluate((t) => sessionStorage.setItem('dirsync.adminToken', t), refused);
      await page.reload();
      await page.locator('#notice').filter({ hasText: 'Sign in again' }).waitFor();
      check(await page.getByLabel('Paste your admin token').isVisible(), 'the sign-in form is not shown');
      await snap('signed-out');
    });

    if (nonAdminToken) {
      await step('not-admin', async () => {
        // A valid token without the admin role: one plain sentence at the top.
        await page.goto(`${baseURL}/#token=${nonAdminToken}`);
        await page.locator('#notice').filter({ hasText: 'not an administrator' }).waitFor();
        check(await page.locator('#notice').isVisible(), 'the refusal is not shown');
      });
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return shot;
}

async function main() {
  check(baseURL, 'CONSOLE_URL is not set (the base URL of the local stack serving the console)');
  mkdirSync(artifacts, { recursive: true });
  for (const [i, width] of widths.entries()) {
    const started = Date.now();
    const shots = await run(width, i);
    console.log(`ok ${width} px: whole flow passed in ${((Date.now() - started) / 1000).toFixed(1)} s, ${shots} screenshots in ${join(artifacts, String(width))}`);
  }
}

main().catch((e) => {
  console.error(e instanceof StepError ? `FAIL ${e.message}` : `FAIL ${e.stack || e}`);
  process.exit(1);
});
