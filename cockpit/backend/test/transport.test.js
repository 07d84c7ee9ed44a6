// How the service talks HTTP: retries, timeouts, errors, configuration. A small local
// server plays chanperf here; test/live.test.js runs against the real one.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';

import performanceService, {
  ChanperfApiError,
  createPerformanceService,
  getDashboardData,
  serviceFromEnv,
  toQuery,
} from '../src/services/performance.service.js';

const METHODS = [
  'getInsights',
  'getInsight',
  'actOnInsight',
  'getMetrics',
  'getMetricsHistory',
  'getTrends',
  'getDashboardData',
  'getProposals',
  'approveProposal',
  'rejectProposal',
  'triggerAnalysis',
  'getJob',
];

/** A server answering from `script`: a list of (req, body) => [status, body] | 'hang'. */
function fakeChanperf() {
  const seen = [];
  let script = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: raw });
      const step = script.shift() ?? (() => [200, {}]);
      const answer = step(req, raw);
      if (answer === 'hang') return; // never answers: the client's timeout must fire
      const [status, body, headers = {}] = answer;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
  return {
    seen,
    play(...steps) {
      script = steps;
      seen.length = 0;
    },
    async start() {
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      this.url = `http://127.0.0.1:${server.address().port}`;
    },
    stop() {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const apiError = (code, status, message, errors = {}) => () => [code, { code, status, message, errors }];

describe('performance.service over HTTP', () => {
  const fake = fakeChanperf();
  let service;

  before(async () => {
    await fake.start();
    service = createPerformanceService({
      baseUrl: `${fake.url}/`,
      apiKey: 'cpk_test',
      timeoutMs: 300,
      retryDelayMs: 10,
    });
  });
  after(() => fake.stop());

  it('has the eleven methods the Cockpit calls and getJob, on the factory and the default export', () => {
    assert.deepEqual(Object.keys(service), METHODS);
    assert.deepEqual(Object.keys(performanceService), METHODS);
  });

  it('sends the key as a bearer token to /v1/performance, with the query and JSON body', async () => {
    fake.play(
      () => [200, [{ id: 1 }], { 'X-Pagination': '{"total": 11, "total_pages": 2, "page": 1}' }],
      () => [200, { id: 4, status: 'DISMISSED' }],
    );
    const page = await service.getInsights({ severity: ['CRITICAL', 'HIGH'], region: 'NORTE', page: 1 });
    assert.deepEqual(page, { items: [{ id: 1 }], pagination: { total: 11, total_pages: 2, page: 1 } });
    const insight = await service.actOnInsight(4, { action: 'dismiss', reason: 'sazonal' });
    assert.deepEqual(insight, { id: 4, status: 'DISMISSED' });

    const [list, act] = fake.seen;
    assert.equal(list.method, 'GET');
    assert.equal(list.url, '/v1/performance/insights?severity=CRITICAL&severity=HIGH&region=NORTE&page=1');
    assert.equal(list.headers.authorization, 'Bearer cpk_test');
    assert.equal(list.body, '');
    assert.equal(act.method, 'POST');
    assert.equal(act.url, '/v1/performance/insights/4/action');
    assert.equal(act.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(act.body), { action: 'dismiss', reason: 'sazonal' });
  });

  it('maps each method to its path', async () => {
    fake.play(...Array.from({ length: 10 }, () => () => [200, {}]));
    await service.getInsight('7');
    await service.actOnInsight(7, 'review');
    await service.getMetrics();
    await service.getMetricsHistory({ period_type: 'DAILY', from: '2026-06-01', to: '2026-06-30' });
    await service.getTrends('reactivation_rate', 30);
    await service.getTrends('onboarding_rate', { days: 12, period_type: 'WEEKLY' });
    await service.getDashboardData({ as_of: '2026-06-30' });
    await service.getProposals('ALL');
    await service.rejectProposal(3, 'custo alto');
    await service.triggerAnalysis({ as_of: '2026-06-30' });
    await service.getJob('analyze-1-2026-06-30');
    assert.deepEqual(
      fake.seen.map((r) => `${r.method} ${r.url} ${r.body}`),
      [
        'GET /v1/performance/insights/7 ',
        'POST /v1/performance/insights/7/action {"action":"review"}',
        'GET /v1/performance/metrics ',
        'GET /v1/performance/metrics/history?period_type=DAILY&from=2026-06-01&to=2026-06-30 ',
        'GET /v1/performance/trends/reactivation_rate?days=30 ',
        'GET /v1/performance/trends/onboarding_rate?days=12&period_type=WEEKLY ',
        'GET /v1/performance/dashboard?as_of=2026-06-30 ',
        'GET /v1/performance/proposals?status=ALL ',
        'POST /v1/performance/proposals/3/reject {"reason":"custo alto"}',
        'POST /v1/performance/analyze {"as_of":"2026-06-30"}',
        'GET /v1/performance/jobs/analyze-1-2026-06-30 ',
      ],
    );
  });

  it('retries a read once after a 5xx and returns the second answer', async () => {
    fake.play(apiError(503, 'Service Unavailable', 'database not reachable'), () => [200, { title: 'ok' }]);
    assert.deepEqual(await service.getDashboardData(), { title: 'ok' });
    assert.equal(fake.seen.length, 2);
  });

  it('gives up on a read after two 5xx, with the API code and message', async () => {
    fake.play(apiError(502, 'Bad Gateway', 'upstream'), apiError(500, 'Internal Server Error', 'boom'));
    await assert.rejects(service.getProposals(), (error) => {
      assert.ok(error instanceof ChanperfApiError);
      assert.equal(error.status, 500);
      assert.equal(error.code, 500);
      assert.equal(error.message, 'boom');
      assert.equal(error.attempts, 2);
      assert.equal(error.path, '/proposals');
      return true;
    });
    assert.equal(fake.seen.length, 2);
  });

  it('never repeats a write, even after a 5xx', async () => {
    fake.play(apiError(500, 'Internal Server Error', 'boom'), () => [200, {}]);
    await assert.rejects(service.approveProposal(1), { code: 500, message: 'boom', attempts: 1 });
    assert.equal(fake.seen.length, 1);
  });

  it('does not retry a 4xx and keeps the per-field errors of a 422', async () => {
    const errors = { json: { reason: ['Missing data for required field.'] } };
    fake.play(apiError(422, 'Unprocessable Entity', 'invalid input', errors), () => [200, {}]);
    await assert.rejects(service.rejectProposal(2, ''), {
      name: 'ChanperfApiError',
      status: 422,
      code: 422,
      message: 'invalid input',
      errors,
    });
    fake.play(apiError(404, 'Not Found', 'insight 99 not found'), () => [200, {}]);
    await assert.rejects(service.getInsight(99), { code: 404, message: 'insight 99 not found', attempts: 1 });
    assert.equal(fake.seen.length, 1);
  });

  it('says a 409 is a conflict', async () => {
    fake.play(apiError(409, 'Conflict', 'proposal 1 is APPROVED; only PENDING_REVIEW can be approved'));
    await assert.rejects(service.approveProposal(1), (error) => error.isConflict && error.code === 409);
  });

  it('times out a request that gets no answer, and tries a read once more', async () => {
    fake.play(() => 'hang', () => 'hang');
    const started = Date.now();
    await assert.rejects(service.getMetrics(), { code: 'TIMEOUT', status: 0, attempts: 2 });
    assert.ok(Date.now() - started >= 600, 'two attempts of 300 ms');
    assert.equal(fake.seen.length, 2);
    fake.play(() => 'hang', () => [200, {}]);
    await assert.rejects(service.triggerAnalysis(), { code: 'TIMEOUT', attempts: 1 });
    assert.equal(fake.seen.length, 1);
  });

  it('reports a network error with NETWORK_ERROR after the read retry', async () => {
    const gone = fakeChanperf();
    await gone.start();
    await gone.stop(); // the port is closed now
    const dead = createPerformanceService({ baseUrl: gone.url, apiKey: 'k', retryDelayMs: 10 });
    await assert.rejects(dead.getInsights(), (error) => {
      assert.equal(error.code, 'NETWORK_ERROR');
      assert.equal(error.attempts, 2);
      assert.match(error.message, /chanperf unreachable \(GET \/insights\): ECONNREFUSED/);
      return true;
    });
  });

  it('keeps a text answer that is not the API shape as the message', async () => {
    fake.play(() => [502, 'Bad Gateway from the proxy'], () => [502, 'Bad Gateway from the proxy']);
    await assert.rejects(service.getMetrics(), { code: 502, message: 'Bad Gateway from the proxy' });
  });
});

describe('configuration', () => {
  it('builds the query string: repeated keys, empty values left out', () => {
    assert.equal(toQuery({ a: ['x', 'y'], b: null, c: undefined, d: '', e: 0 }), '?a=x&a=y&e=0');
    assert.equal(toQuery({}), '');
  });

  it('needs CHANPERF_URL and CHANPERF_API_KEY', () => {
    assert.throws(() => serviceFromEnv({}), /CHANPERF_URL and CHANPERF_API_KEY not set/);
    assert.throws(() => serviceFromEnv({ CHANPERF_URL: 'http://x' }), /^Error: CHANPERF_API_KEY not set/);
    assert.throws(
      () => serviceFromEnv({ CHANPERF_URL: 'http://x', CHANPERF_API_KEY: 'k', CHANPERF_TIMEOUT_MS: 'soon' }),
      /CHANPERF_TIMEOUT_MS must be a positive number/,
    );
    assert.throws(() => createPerformanceService({ baseUrl: 'http://x' }), /apiKey is required/);
  });

  it('reads the environment on the first call of a named function', async () => {
    const fake = fakeChanperf();
    await fake.start();
    try {
      process.env.CHANPERF_URL = fake.url;
      process.env.CHANPERF_API_KEY = 'cpk_from_env';
      fake.play(() => [200, { title: 'Performance do Canal' }]);
      assert.deepEqual(await getDashboardData(), { title: 'Performance do Canal' });
      assert.equal(fake.seen[0].headers.authorization, 'Bearer cpk_from_env');
    } finally {
      delete process.env.CHANPERF_URL;
      delete process.env.CHANPERF_API_KEY;
      await fake.stop();
    }
  });

  it('loads with require() from a CommonJS backend too', () => {
    const required = createRequire(import.meta.url)('../src/services/performance.service.js');
    assert.equal(typeof required.createPerformanceService, 'function');
    assert.deepEqual(Object.keys(required.default), METHODS);
  });
});
