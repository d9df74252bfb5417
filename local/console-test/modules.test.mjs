// Unit tests of the console's DOM-free modules, with Node's test runner:
// node --test local/console-test/modules.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Api, ApiError, NetworkError, describeError, nextLink, query } from '../../internal/console/web/api.js';
import { fieldOfMessage, ignoredRemovals, ignoredSummary, validateConnection } from '../../internal/console/web/connection.js';
import { duration, fieldLabel, percent, rate, reason, safeguardSentence } from '../../internal/console/web/format.js';
import { membersText, moveActive, optionsFor, searchFailure } from '../../internal/console/web/grouppicker.js';
import { RateMeter, percentOf, secondsRemaining } from '../../internal/console/web/progress.js';
import { claimsOf, tokenFromFragment } from '../../internal/console/web/session.js';

describe('RateMeter', () => {
  const cases = [
    { name: 'no samples', samples: [], want: null },
    { name: 'one sample', samples: [[0, 10]], want: null },
    { name: 'steady', samples: [[0, 0], [1000, 50], [2000, 100]], want: 50 },
    { name: 'same instant twice', samples: [[0, 0], [0, 5]], want: null },
    // Only the last 10 s count: a slow start does not drag the rate down.
    { name: 'window drops the slow start', samples: [[0, 0], [10000, 10], [20000, 1010], [21000, 1110]], want: 100 },
    { name: 'counter restarted', samples: [[0, 500], [1000, 600], [2000, 10], [3000, 40]], want: 30 },
    { name: 'clock stepped back', samples: [[5000, 0], [6000, 100], [1000, 120], [2000, 140]], want: 20 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = new RateMeter(10000);
      for (const [at, processed] of c.samples) m.add(at, processed);
      assert.equal(m.rate(), c.want);
    });
  }
});

describe('secondsRemaining and percentOf', () => {
  const cases = [
    { total: 100, processed: 50, rate: 10, left: 5, pct: 50 },
    { total: 100, processed: 100, rate: null, left: 0, pct: 100 },
    { total: 100, processed: 20, rate: null, left: null, pct: 20 },
    { total: 100, processed: 20, rate: 0, left: null, pct: 20 },
    { total: 0, processed: 0, rate: null, left: 0, pct: 0 },
    { total: 10, processed: 12, rate: 5, left: 0, pct: 100 },
  ];
  for (const c of cases) {
    it(`${c.processed}/${c.total} at ${c.rate}/s`, () => {
      assert.equal(secondsRemaining(c.total, c.processed, c.rate), c.left);
      assert.equal(percentOf(c.processed, c.total), c.pct);
    });
  }
});

describe('format', () => {
  it('duration', () => {
    assert.equal(duration(null), 'estimating…');
    assert.equal(duration(0), 'none');
    assert.equal(duration(42.4), 'about 42 s');
    assert.equal(duration(125), 'about 2 min 5 s');
    assert.equal(duration(3 * 3600 + 7 * 60), 'about 3 h 7 min');
  });
  it('percent', () => {
    assert.equal(percent(100), '100 %');
    assert.equal(percent(37.54), '37.5 %');
    assert.equal(percent(0), '0 %');
  });
  it('rate', () => {
    assert.equal(rate(null), 'measuring…');
    assert.equal(rate(2.345), '2.3 changes/s');
    assert.equal(rate(1234.4), '1,234 changes/s');
  });
  it('reasons and fields read as words', () => {
    assert.match(reason('duplicate_email'), /share this email/);
    assert.equal(reason('some_new_reason'), 'some new reason');
    assert.match(reason('changed_since_sync'), /leaves it as it is/);
    assert.equal(fieldLabel('jobTitle'), 'Job title');
    assert.equal(fieldLabel('costCenter'), 'Cost center');
  });
  it('safeguards', () => {
    assert.equal(safeguardSentence({ name: 'deactivation_percent', limit: 20, actual: 37.5 }),
      'It would deactivate 37.5 % of your imported users; the limit is 20 %.');
    assert.equal(safeguardSentence({ name: 'deactivation_count', limit: 500, actual: 1200 }),
      'It would deactivate 1,200 users; the limit is 500.');
    assert.equal(safeguardSentence({ name: 'group_removal_percent', limit: 20, actual: 50 }),
      'It would remove 50 % of your imported groups; the limit is 20 %.');
    assert.equal(safeguardSentence({ name: 'group_removal_count', limit: 500, actual: 1 }),
      'It would remove 1 group; the limit is 500.');
    assert.equal(safeguardSentence({ name: 'membership_removal_count', limit: 500, actual: 2000 }),
      'It would remove 2,000 group memberships; the limit is 500.');
  });
});

describe('describeError', () => {
  const cases = [
    { name: 'network', err: new NetworkError(new TypeError('fetch failed')), want: /cannot be reached/ },
    { name: 'conflict in context', err: new ApiError(409, 'conflict', 'a sync is PREVIEWING'), overrides: { conflict: 'Another import is running.' }, want: /^Another import is running\. Details: a sync is PREVIEWING\.$/ },
    { name: 'expired preview', err: new ApiError(410, 'gone', 'preview expired'), want: /^This preview has expired\./ },
    { name: 'internal names the request id', err: new ApiError(500, 'internal', 'internal error (request id r-1)'), want: /Reference: internal error \(request id r-1\)$/ },
    { name: 'unknown 5xx', err: new ApiError(502, 'internal', ''), want: /service’s side/ },
    { name: 'forbidden', err: new ApiError(403, 'forbidden', 'admin role required'), want: /not an administrator.*Details: admin role required\./ },
    { name: 'bug in the page', err: new TypeError('x is undefined'), want: /unexpected.*x is undefined/ },
  ];
  for (const c of cases) {
    it(c.name, () => assert.match(describeError(c.err, c.overrides), c.want));
  }
});

describe('Api', () => {
  const respond = (status, body) => async () => new Response(body === undefined ? '' : (typeof body === 'string' ? body : JSON.stringify(body)), { status });

  it('sends the token and JSON, and answers the body', async () => {
    let seen;
    const api = new Api('https://api.example', () => 'tok', async (url, init) => {
      seen = { url, init };
      return new Response('{"id":"s1","status":"APPLYING"}', { status: 202 });
    });
    assert.deepEqual(await api.confirmSync('s1', true), { id: 's1', status: 'APPLYING' });
    assert.equal(seen.url, 'https://api.example/v1/syncs/s1/confirm');
    assert.equal(seen.init.method, 'POST');
    assert.equal(seen.init.headers.Authorization, 'Bearer tok');
    assert.equal(seen.init.headers['Content-Type'], 'application/json');
    assert.equal(seen.init.body, '{"allowDeactivations":true}');
  });

  const failures = [
    { name: 'error shape', res: respond(422, { error: { code: 'unprocessable', message: 'no connection' } }), code: 'unprocessable', status: 422, message: 'no connection' },
    { name: 'gateway page', res: respond(502, '<html>bad gateway</html>'), code: 'internal', status: 502, message: '' },
    { name: 'throttled, empty body', res: respond(429), code: 'too_many_requests', status: 429, message: '' },
  ];
  for (const f of failures) {
    it(f.name, async () => {
      const api = new Api('', () => 'tok', f.res);
      await assert.rejects(api.getConnection(), (e) => e instanceof ApiError && e.code === f.code && e.status === f.status && e.message === (f.message || f.code));
    });
  }

  it('exports changes as CSV text, asking for text/csv with the filters and no paging', async () => {
    let seen;
    const csv = 'seq,objectType\r\n1,user\r\n';
    const api = new Api('', () => 'tok', async (url, init) => {
      seen = { url, init };
      return new Response(csv, { status: 200, headers: { 'Content-Type': 'text/csv; charset=utf-8' } });
    });
    assert.deepEqual(await api.exportChanges('s1', { objectType: 'user', kind: 'add', excluded: false, q: '' }), [csv]);
    assert.equal(seen.url, '/v1/syncs/s1/changes?objectType=user&kind=add&excluded=false');
    assert.equal(seen.init.headers.Accept, 'text/csv');
    assert.equal(seen.init.headers.Authorization, 'Bearer tok');
  });

  it('follows a large export from part to part', async () => {
    const urls = [];
    const parts = ['seq,objectType\r\n1,user\r\n', '2,user\r\n', '3,group\r\n'];
    const api = new Api('https://api.example', () => 'tok', async (url) => {
      urls.push(url);
      const n = urls.length;
      const headers = { 'Content-Type': 'text/csv; charset=utf-8' };
      if (n < parts.length) headers.Link = `</v1/syncs/s1/changes?kind=add&cursor=c${n}>; rel="next"`;
      return new Response(parts[n - 1], { status: 200, headers });
    });
    const told = [];
    assert.deepEqual(await api.exportChanges('s1', { kind: 'add' }, (n) => told.push(n)), parts);
    assert.deepEqual(urls, ['https://api.example/v1/syncs/s1/changes?kind=add',
      'https://api.example/v1/syncs/s1/changes?kind=add&cursor=c1', 'https://api.example/v1/syncs/s1/changes?kind=add&cursor=c2']);
    assert.deepEqual(told, [1, 2, 3]);
  });

  it('reads only a next link to an API path', () => {
    const cases = [
      [null, null],
      ['', null],
      ['</v1/syncs/a/changes?cursor=x>; rel="next"', '/v1/syncs/a/changes?cursor=x'],
      ['</v1/a>; rel="prev", </v1/b>; rel="next"', '/v1/b'],
      ['</v1/a>; rel="prev"', null],
      ['<https://elsewhere.example/v1/a>; rel="next"', null],
    ];
    for (const [header, want] of cases) assert.equal(nextLink(header), want, String(header));
  });

  it('a refused export is an ApiError the admin can read', async () => {
    const api = new Api('', () => 'tok', respond(422, { error: { code: 'unprocessable', message: 'no change of the export was read within 12s' } }));
    await assert.rejects(api.exportChanges('s1', {}), (e) => e instanceof ApiError && e.status === 422 &&
      /not read the changes in time/.test(describeError(e, { unprocessable: 'The service did not read the changes in time.' })) && /within 12s/.test(describeError(e)));
  });

  it('a failed fetch is a NetworkError', async () => {
    const api = new Api('', () => 'tok', async () => { throw new TypeError('fetch failed'); });
    await assert.rejects(api.listUsers({ limit: 5 }), NetworkError);
  });

  it('query leaves out empty values', () => {
    assert.equal(query({ kind: 'update', q: '', cursor: undefined, limit: 25 }), '?kind=update&limit=25');
    assert.equal(query({}), '');
    assert.equal(query({ q: 'a&b' }), '?q=a%26b');
  });
});

describe('validateConnection', () => {
  const dir = '6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f';
  const app = '0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a';
  const base = {
    directoryTenantId: dir, clientId: app, clientSecret: 'a-secret-of-20-chars', cloud: 'global', scopeGroups: [],
    thresholdPercent: '0', thresholdCount: '0', includeGuests: false, deactivateMissing: true,
  };
  const stored = { clientId: app, options: { mapping: [{ attribute: 'costCenter', source: 'employeeType' }] } };
  const cases = [
    { name: 'new connection', values: {}, existing: null, errors: [] },
    { name: 'new connection needs a secret', values: { clientSecret: '' }, existing: null, errors: ['clientSecret'] },
    { name: 'stored secret kept', values: { clientSecret: '' }, existing: stored, errors: [] },
    { name: 'new client id needs its secret', values: { clientSecret: '', clientId: '11111111-2222-4333-8444-555555555555' }, existing: stored, errors: ['clientSecret'] },
    { name: 'secret id instead of value', values: { clientSecret: 'short' }, existing: stored, errors: ['clientSecret'] },
    { name: 'bad ids', values: { directoryTenantId: 'contoso.com', clientId: 'x' }, existing: null, errors: ['directoryTenantId', 'clientId'] },
    { name: 'bad scope group', values: { scopeGroups: [dir, 'sales'] }, existing: null, errors: ['scopeGroups'] },
    { name: 'thresholds out of range', values: { thresholdPercent: '120', thresholdCount: '2.5' }, existing: null, errors: ['thresholdPercent', 'thresholdCount'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { errors } = validateConnection({ ...base, ...c.values }, c.existing);
      assert.deepEqual(Object.keys(errors).sort(), [...c.errors].sort());
    });
  }

  it('builds the PUT body, keeping the stored mapping and leaving an empty secret out', () => {
    const { input } = validateConnection({ ...base, clientSecret: '', scopeGroups: [dir, app.toUpperCase(), app], thresholdPercent: '12.5', thresholdCount: '40' }, stored);
    assert.deepEqual(input, {
      directoryTenantId: dir, clientId: app, cloud: 'global',
      options: {
        scope: { groups: [dir, app] }, includeGuests: false, deactivateMissing: true,
        deactivationThreshold: { percent: 12.5, count: 40 }, mapping: stored.options.mapping,
      },
    });
  });

  it('leaves the ignored users out of the PUT body, so the stored list stays', () => {
    const { input } = validateConnection({ ...base, clientSecret: '', ignoredUsers: [app] }, stored);
    assert.equal('ignoredUsers' in input.options, false);
  });

  it('finds the ignored users the form no longer lists', () => {
    const conn = { options: { ignoredUsers: [dir, app] } };
    const cases = [
      { name: 'nothing removed', listed: [dir, app], want: [] },
      { name: 'one removed', listed: [app], want: [dir] },
      { name: 'all removed', listed: [], want: [dir, app] },
    ];
    for (const c of cases) assert.deepEqual(ignoredRemovals(conn, c.listed), c.want, c.name);
    assert.deepEqual(ignoredRemovals(null, []), [], 'a new connection');
    assert.deepEqual(ignoredRemovals({ options: {} }, []), [], 'a connection without the list');
  });

  it('says how many users are ignored', () => {
    assert.equal(ignoredSummary(0), 'No user is ignored: every user in scope is imported.');
    assert.equal(ignoredSummary(1), '1 user is always ignored.');
    assert.equal(ignoredSummary(1234), '1,234 users are always ignored.');
  });

  it('finds the field an API message names', () => {
    assert.equal(fieldOfMessage('options.deactivationThreshold.percent: must be a number'), 'thresholdPercent');
    assert.equal(fieldOfMessage('options.scope.groups[2]: must be a GUID'), 'scopeGroups');
    assert.equal(fieldOfMessage('clientSecret: required when creating the connection'), 'clientSecret');
    assert.equal(fieldOfMessage('request body: not JSON'), null);
  });
});

describe('group picker', () => {
  it('says how many members a group has, or nothing', () => {
    assert.equal(membersText(1), '1 member');
    assert.equal(membersText(1234), '1,234 members');
    assert.equal(membersText(0), '0 members');
    assert.equal(membersText(undefined), '');
  });
  const moves = [
    { name: 'down from none', current: -1, step: 1, length: 3, want: 0 },
    { name: 'up from none', current: -1, step: -1, length: 3, want: 2 },
    { name: 'down wraps', current: 2, step: 1, length: 3, want: 0 },
    { name: 'up wraps', current: 0, step: -1, length: 3, want: 2 },
    { name: 'nothing to move to', current: -1, step: 1, length: 0, want: -1 },
  ];
  for (const m of moves) {
    it(`arrows: ${m.name}`, () => assert.equal(moveActive(m.current, m.step, m.length), m.want));
  }
  it('lists the matches not chosen yet, or a pasted object ID', () => {
    const eng = { id: '0A000000-0000-4000-8000-000000000001', displayName: 'Engineering', memberCount: 12 };
    const ops = { id: '0a000000-0000-4000-8000-000000000003', displayName: 'Eng Ops' };
    const chosen = new Set(['0a000000-0000-4000-8000-000000000001']);
    assert.deepEqual(optionsFor('eng', [eng, ops], chosen), [ops]);
    assert.deepEqual(optionsFor(' 0A000000-0000-4000-8000-000000000003 ', [], chosen),
      [{ id: '0a000000-0000-4000-8000-000000000003', displayName: null, pasted: true }]);
    assert.deepEqual(optionsFor('0a000000-0000-4000-8000-000000000001', [], chosen), []);
  });
  const failures = [
    { name: 'no connection yet', err: new ApiError(422, 'unprocessable', 'no Entra ID connection is configured: PUT /v1/connection first'), want: /^Save the connection first/ },
    { name: 'the connection cannot read groups', err: new ApiError(422, 'unprocessable', 'the client secret is wrong or has expired'), want: /^Groups cannot be searched: the client secret is wrong or has expired\.$/ },
    { name: 'Graph unavailable', err: new ApiError(503, 'unavailable', 'Microsoft Graph failed (HTTP 503 serviceNotAvailable); try again in a moment'), want: /did not answer.*Details: Microsoft Graph failed/ },
    { name: 'offline', err: new NetworkError(new TypeError('fetch failed')), want: /cannot be reached/ },
  ];
  for (const f of failures) {
    it(`search failure: ${f.name}`, () => assert.match(searchFailure(f.err), f.want));
  }
});

describe('session', () => {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it('reads the claims of a token', () => {
    assert.deepEqual(claimsOf(`${enc({ alg: 'HS256' })}.${enc({ email: 'zoë@acme.example', exp: 1 })}.sig`), { email: 'zoë@acme.example', exp: 1 });
    assert.equal(claimsOf('not a token'), null);
    assert.equal(claimsOf('a.b%%.c'), null);
  });
  it('takes the token from the fragment', () => {
    assert.equal(tokenFromFragment('#token=abc.def.ghi'), 'abc.def.ghi');
    assert.equal(tokenFromFragment('#users'), '');
    assert.equal(tokenFromFragment(''), '');
  });
});
