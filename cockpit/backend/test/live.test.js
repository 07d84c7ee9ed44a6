// The service against a real `chanperf serve` on the planted demo (as of 2026-06-30),
// started here on a private copy of the database, with one key per role.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ROLES, startChanperf } from '../../testing/live-chanperf.mjs';
import { createPerformanceService } from '../src/services/performance.service.js';

const AS_OF = '2026-06-30';

/** Ask again every 200 ms until `done(answer)`, for at most 60 s. */
async function until(ask, done) {
  for (let waited = 0; waited < 60_000; waited += 200) {
    const answer = await ask();
    if (done(answer)) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('gave up waiting');
}
const SEVERITY_RANK = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

function june(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => `2026-06-${String(from + i).padStart(2, '0')}`);
}

describe('performance.service against chanperf serve on the planted demo', () => {
  let server;
  let as; // a service per role
  let dashboard;

  before(
    async () => {
      server = await startChanperf();
      as = Object.fromEntries(
        ROLES.map((role) => [role, createPerformanceService({ baseUrl: server.url, apiKey: server.keys[role] })]),
      );
      dashboard = await as.viewer.getDashboardData({ as_of: AS_OF });
    },
    { timeout: 240_000 },
  );
  after(() => server?.stop());

  it('reads the dashboard of the last complete week, with what the key may do', async () => {
    assert.equal(dashboard.title, 'Performance do Canal');
    assert.equal(dashboard.as_of, AS_OF);
    assert.equal(dashboard.week, '2026-06-22');
    assert.equal(dashboard.week_label, 'Semana 26/2026 (22/06–28/06)');
    assert.deepEqual(
      dashboard.kpis.map((k) => [k.key, k.label, k.week_label, k.previous_week_label]),
      [
        // A cohort rate's card shows the last week whose 30-day activation window has closed.
        ['onboarding_rate', 'Onboarding', 'Semana 22/2026 (25/05–31/05)', 'Semana 21/2026 (18/05–24/05)'],
        ['reactivation_rate', 'Reativação', 'Semana 26/2026 (22/06–28/06)', 'Semana 25/2026 (15/06–21/06)'],
        ['revenue_growth', 'Crescimento', 'Semana 26/2026 (22/06–28/06)', 'Semana 25/2026 (15/06–21/06)'],
      ],
    );
    assert.deepEqual(dashboard.viewer, { name: 'viewer-e2e', role: 'viewer', can_act: false, can_approve: false });
    const approver = await as.approver.getDashboardData({ as_of: AS_OF });
    assert.deepEqual(approver.viewer, { name: 'approver-e2e', role: 'approver', can_act: true, can_approve: true });
    assert.deepEqual(
      dashboard.trends.series.map((s) => [s.key, s.points.map((p) => p.date)]),
      [
        ['onboarding_rate', june(1, 30)],
        ['reactivation_rate', june(1, 30)],
      ],
    );
  });

  it('reads the weekly metrics the KPI cards are made of', async () => {
    const metrics = await as.viewer.getMetrics({ period_type: 'WEEKLY', as_of: '2026-06-28' });
    const card = dashboard.kpis.find((k) => k.key === 'reactivation_rate');
    assert.equal(metrics.current.period_date, '2026-06-22');
    assert.equal(metrics.previous.period_date, '2026-06-15');
    assert.equal(card.value, metrics.current.reactivation_rate);
    assert.equal(card.previous, metrics.previous.reactivation_rate);
    assert.equal(card.display, `${Math.round(card.value)}%`);
  });

  it('reads daily history and a trend equal to the dashboard series', async () => {
    const history = await as.viewer.getMetricsHistory({ period_type: 'DAILY', from: '2026-06-24', to: AS_OF });
    assert.deepEqual(
      history.map((row) => row.period_date),
      june(24, 30),
    );
    const trend = await as.viewer.getTrends('reactivation_rate', { days: 30, end: AS_OF });
    assert.equal(trend.metric, 'reactivation_rate');
    assert.equal(trend.period_type, 'DAILY');
    const series = dashboard.trends.series.find((s) => s.key === 'reactivation_rate');
    assert.deepEqual(
      trend.points.map((p) => [p.period_date, p.value]),
      series.points.map((p) => [p.date, p.value]),
    );
    assert.deepEqual(
      history.map((row) => row.reactivation_rate),
      series.points.slice(23).map((p) => p.value),
    );
    await assert.rejects(as.viewer.getTrends('no_such_metric', 30), {
      status: 404,
      code: 404,
      message: "unknown metric 'no_such_metric'",
    });
  });

  it('lists the new insights in severity order, as many as the dashboard counts', async () => {
    const { items, pagination } = await as.viewer.getInsights({ status: 'NEW', sort: '-severity,-id', page_size: 100 });
    assert.equal(items.length, dashboard.new_insights.total);
    assert.equal(pagination.total, dashboard.new_insights.total);
    const ranks = items.map((i) => SEVERITY_RANK[i.severity]);
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    for (const { severity, count } of dashboard.new_insights.by_severity) {
      assert.equal(items.filter((i) => i.severity === severity).length, count, severity);
    }
    const page2 = await as.viewer.getInsights({ status: 'NEW', page: 2, page_size: 10 });
    assert.deepEqual(
      page2.items.map((i) => i.id),
      items.slice(10, 20).map((i) => i.id),
    );
    assert.equal(page2.pagination.page, 2);
  });

  it('reads one insight with the proposal made from it', async () => {
    const pending = dashboard.pending_proposals.items[0];
    const insight = await as.viewer.getInsight(pending.insight_id);
    assert.equal(insight.id, pending.insight_id);
    assert.deepEqual(
      insight.proposals.map((p) => [p.id, p.status, p.title]),
      [[pending.id, 'PENDING_REVIEW', pending.title]],
    );
    await assert.rejects(as.viewer.getInsight(999_999), { code: 404, message: 'insight 999999 not found' });
  });

  it('acts on an insight as an analyst; a viewer may not; a stale action is a 409', async () => {
    const { items } = await as.viewer.getInsights({ status: 'NEW', severity: 'MEDIUM', page_size: 1 });
    const [target] = items;
    await assert.rejects(as.viewer.actOnInsight(target.id, 'review'), {
      status: 403,
      code: 403,
      message: "role analyst required; key 'viewer-e2e' is viewer",
    });
    const reviewed = await as.analyst.actOnInsight(target.id, 'review');
    assert.equal(reviewed.status, 'REVIEWED');
    assert.equal(reviewed.reviewed_by, 'analyst-e2e');
    await assert.rejects(as.analyst.actOnInsight(target.id, { action: 'review' }), (error) => {
      assert.equal(error.isConflict, true);
      assert.equal(error.message, `insight ${target.id} is REVIEWED; review needs it NEW`);
      return true;
    });
    const dismissed = await as.analyst.actOnInsight(target.id, { action: 'dismiss', reason: 'efeito sazonal' });
    assert.equal(dismissed.status, 'DISMISSED');
  });

  it('approves and rejects proposals as an approver, with the API answers', async () => {
    const pending = await as.viewer.getProposals();
    assert.deepEqual(
      pending.map((p) => p.id),
      dashboard.pending_proposals.items.map((p) => p.id),
    );
    assert.equal(pending.length, dashboard.pending_proposals.total);
    const [first, second] = pending;

    await assert.rejects(as.viewer.approveProposal(first.id), { code: 403 });
    await assert.rejects(as.analyst.approveProposal(first.id), {
      message: "role approver required; key 'analyst-e2e' is analyst",
    });
    const approved = await as.approver.approveProposal(first.id);
    assert.equal(approved.id, first.id);
    assert.equal(approved.status, 'APPROVED');
    assert.equal(approved.approved_by, 'approver-e2e');
    await assert.rejects(as.approver.approveProposal(first.id), {
      status: 409,
      code: 409,
      message: `proposal ${first.id} is APPROVED; only PENDING_REVIEW can be approved`,
    });

    await assert.rejects(as.approver.rejectProposal(second.id, ''), (error) => {
      assert.equal(error.code, 422);
      assert.ok(error.errors.reason, JSON.stringify(error.errors));
      return true;
    });
    const rejected = await as.approver.rejectProposal(second.id, 'custo do kit acima do orçamento');
    assert.equal(rejected.status, 'REJECTED');
    assert.equal(rejected.rejection_reason, 'custo do kit acima do orçamento');

    assert.deepEqual(await as.viewer.getProposals(), []);
    const all = await as.viewer.getProposals('ALL');
    assert.deepEqual(
      all.map((p) => [p.id, p.status]).sort((a, b) => a[0] - b[0]),
      [
        [first.id, 'APPROVED'],
        [second.id, 'REJECTED'],
      ].sort((a, b) => a[0] - b[0]),
    );
    const after = await as.viewer.getDashboardData({ as_of: AS_OF });
    assert.deepEqual(after.pending_proposals, { label: 'Propostas pendentes', total: 0, items: [] });
  });

  it('starts an analysis as an analyst, follows its job, and the same day again reuses the run', async () => {
    await assert.rejects(as.viewer.triggerAnalysis({ as_of: AS_OF }), { code: 403 });
    // No queue: the server answers at once and runs the analysis in a thread of its own.
    const job = await as.analyst.triggerAnalysis({ as_of: AS_OF, rerun: true });
    assert.match(job.id, /^analyze-1-2026-06-30-r\d+$/);
    assert.ok(['queued', 'started'].includes(job.status), job.status);
    const done = await until(() => as.viewer.getJob(job.id), (j) => j.status !== 'queued' && j.status !== 'started');
    assert.equal(done.status, 'finished');
    assert.equal(done.result.reused, false);
    await assert.rejects(as.analyst.triggerAnalysis({ as_of: '2999-01-01' }), (error) => {
      assert.equal(error.code, 422);
      assert.ok(error.errors.as_of[0].startsWith('must not be after today'));
      return true;
    });
  });

  it('answers 401 to an unknown key', async () => {
    const stranger = createPerformanceService({ baseUrl: server.url, apiKey: 'cpk_nobody' });
    await assert.rejects(stranger.getDashboardData(), { status: 401, code: 401, message: 'invalid API key' });
  });
});
