// Unit tests of how the console starts a full read and words how a preview
// read Entra ID, with Node's test runner (TestConsoleModulesInNode runs them
// with local/console-test/modules.test.mjs):
// node --test internal/console/read.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Api } from './web/api.js';
import { planSentence, readSentence, readTag } from './web/format.js';

describe('readSentence', () => {
  const cases = [
    { name: 'delta', sync: { readKind: 'delta', readReason: null }, want: 'Read only what changed in Entra ID since the last sync.' },
    { name: 'first sync', sync: { readKind: 'full', readReason: 'no_mirror' }, want: 'Read all of Entra ID: first sync, or no sync in the last 30 days.' },
    { name: 'asked for', sync: { readKind: 'full', readReason: 'requested' }, want: 'Read all of Entra ID: you asked for a full read.' },
    { name: 'connection changed', sync: { readKind: 'full', readReason: 'basis_changed' }, want: 'Read all of Entra ID: the connection’s directory or mapped attributes changed.' },
    { name: 'weekly', sync: { readKind: 'full', readReason: 'reconcile' }, want: 'Read all of Entra ID: the weekly full read that catches anything the change feed missed.' },
    { name: 'token expired', sync: { readKind: 'full', readReason: 'delta_expired' }, want: 'Read all of Entra ID: Microsoft Graph no longer accepted the change token.' },
    { name: 'drift', sync: { readKind: 'full', readReason: 'drift' }, want: 'Read all of Entra ID: the changes did not add up to Microsoft Graph’s counts, so everything was read again.' },
    { name: 'a reason this page does not know yet', sync: { readKind: 'full', readReason: 'some_new_reason' }, want: 'Read all of Entra ID: some new reason.' },
    { name: 'full without a reason', sync: { readKind: 'full', readReason: null }, want: 'Read all of Entra ID.' },
    { name: 'preview not ready', sync: { status: 'PREVIEWING', readKind: null, readReason: null }, want: '' },
    { name: 'undo reads nothing', sync: { kind: 'undo', readKind: null, readReason: null }, want: '' },
    { name: 'an older sync without the fields', sync: { status: 'COMPLETED' }, want: '' },
    { name: 'no sync', sync: null, want: '' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(readSentence(c.sync), c.want));
  }

  it('tags the history with the kind of read', () => {
    assert.equal(readTag('full'), 'Full read');
    assert.equal(readTag('delta'), 'Changes only');
    assert.equal(readTag(null), '');
    assert.equal(readTag(undefined), '');
  });
});

describe('planSentence', () => {
  const cases = [
    { name: 'planned from the changes', sync: { readKind: 'delta', plannedUsers: 3071 },
      want: 'Compared only the 3,071 users that changed or the last preview listed; everyone else was already in step.' },
    { name: 'one user', sync: { readKind: 'delta', plannedUsers: 1 },
      want: 'Compared only the 1 user that changed or the last preview listed; everyone else was already in step.' },
    { name: 'every user compared', sync: { readKind: 'delta', plannedUsers: null }, want: '' },
    { name: 'an older sync without the field', sync: { readKind: 'full' }, want: '' },
    { name: 'no sync', sync: null, want: '' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(planSentence(c.sync), c.want));
  }
});

describe('Api.startSync', () => {
  const started = () => {
    const seen = [];
    const api = new Api('https://api.example', () => 'tok', async (url, init) => {
      seen.push({ url, init });
      return new Response('{"id":"s1","status":"PREVIEWING"}', { status: 202 });
    });
    return { api, seen };
  };

  const plain = [
    { name: 'no argument', args: [] },
    { name: 'fullRead false', args: [false] },
  ];
  for (const c of plain) {
    it(`sends no body: ${c.name}`, async () => {
      const { api, seen } = started();
      assert.deepEqual(await api.startSync(...c.args), { id: 's1', status: 'PREVIEWING' });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].url, 'https://api.example/v1/syncs');
      assert.equal(seen[0].init.method, 'POST');
      assert.equal(seen[0].init.headers.Authorization, 'Bearer tok');
      assert.equal('body' in seen[0].init, false);
      assert.equal('Content-Type' in seen[0].init.headers, false);
    });
  }

  it('sends {"fullRead":true} when asked for a full read', async () => {
    const { api, seen } = started();
    assert.deepEqual(await api.startSync(true), { id: 's1', status: 'PREVIEWING' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].url, 'https://api.example/v1/syncs');
    assert.equal(seen[0].init.method, 'POST');
    assert.equal(seen[0].init.headers['Content-Type'], 'application/json');
    assert.equal(seen[0].init.body, '{"fullRead":true}');
  });
});
