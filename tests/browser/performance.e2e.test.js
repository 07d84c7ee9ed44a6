// The Performance page in real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a live `chanperf serve` on the planted demo as of 2026-06-30.
// Every number the page shows is compared with what the API answers for the same key.
// Screenshots land in build/browser/ (E2E_ARTIFACTS to put them elsewhere).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { chromium } from 'playwright-core';

import { createPerformanceService } from '../../cockpit/backend/src/services/performance.service.js';
import { DEMO_AS_OF, REPO_ROOT, ROLES, startChanperf } from '../../cockpit/testing/live-chanperf.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = process.env.E2E_ARTIFACTS || join(REPO_ROOT, 'build/browser');
// Without the background-networking flags Chromium dials out on its own (and, on a closed
// network, its attempts are refused): the page must need nothing but the server.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SEVERITY_RANK = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };
const SEVERITY_COLOURS = { CRITICAL: 'rgb(220, 38, 38)', HIGH: 'rgb(234, 88, 12)', MEDIUM: 'rgb(202, 138, 4)' };

describe('the Performance page in Chromium', () => {
  let server;
  let browser;
  let api; // a service per role, to compare the page with the API
  const outside = []; // requests to anything but the server
  const problems = []; // console errors and page errors

  before(
    async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      server = await startChanperf();
      api = Object.fromEntries(
        ROLES.map((role) => [role, createPerformanceService({ baseUrl: server.url, apiKey: server.keys[role] })]),
      );
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    },
    { timeout: 240_000 },
  );

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A fresh browser session (own sessionStorage) on the page, signed in with `role`'s key. */
  async function open(role) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'pt-BR' });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${server.url}/`)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(`${server.url}/performance/?as_of=${DEMO_AS_OF}`);
    await page.getByLabel('Chave de API do chanperf').fill(server.keys[role]);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByTestId('pending-proposals').or(page.getByText('Nenhuma proposta pendente.')).waitFor();
    await page.getByTestId('top-insights').waitFor();
    await page.locator('[data-role="day"]').first().waitFor();
    return { context, page };
  }

  const ids = (locator) =>
    locator.evaluateAll((els) => els.map((el) => Number(el.dataset.insightId ?? el.dataset.proposalId)));

  it('shows the four sections filled from the demo, as the API answers them; a viewer has no buttons', async () => {
    const dashboard = await api.viewer.getDashboardData({ as_of: DEMO_AS_OF });
    const { context, page } = await open('viewer');

    await assert.equal(
      await page.getByRole('heading', { level: 1 }).textContent(),
      'Performance do Canal — Esta Semana',
    );
    assert.equal(
      await page.getByTestId('week-label').textContent(),
      `${dashboard.week_label} · viewer-e2e (leitura)`,
    );

    // KPI cards: the API's numbers.
    for (const kpi of dashboard.kpis) {
      assert.equal(await page.getByTestId(`kpi-value-${kpi.key}`).textContent(), kpi.display, kpi.key);
      const card = page.locator(`[data-kpi="${kpi.key}"]`);
      assert.equal(await card.locator('.cp-kpi__label').textContent(), kpi.label);
      if (kpi.key.endsWith('_rate')) {
        assert.equal(await card.getByRole('meter').getAttribute('aria-valuenow'), kpi.value === null ? null : String(kpi.value));
      }
      const comparison = await page.getByTestId(`kpi-comparison-${kpi.key}`).textContent();
      assert.ok(comparison.includes(kpi.trend === null ? kpi.trend_label : kpi.comparison_label), comparison);
    }

    // Insights: the demo's new insights, in severity order, coloured by severity.
    assert.equal(
      await page.locator('#cp-insights').textContent(),
      `Insights (${dashboard.new_insights.total} novos)`,
    );
    const top = await api.viewer.getInsights({ status: 'NEW', sort: '-severity,-id', page_size: 3 });
    const cards = page.getByTestId('top-insights').locator('[data-insight-id]');
    assert.deepEqual(await ids(cards), top.items.map((i) => i.id));
    const severities = await cards.evaluateAll((els) => els.map((el) => el.dataset.severity));
    assert.deepEqual(severities, top.items.map((i) => i.severity));
    const ranks = severities.map((s) => SEVERITY_RANK[s]);
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    for (const [index, insight] of top.items.entries()) {
      const card = cards.nth(index);
      assert.equal(await card.locator('.cp-insight__title').textContent(), insight.title);
      assert.equal(await card.locator('.cp-insight__suggestion').textContent(), `Sugestão: ${insight.recommendation}`);
      assert.equal(await card.evaluate((el) => getComputedStyle(el).borderLeftColor), SEVERITY_COLOURS[insight.severity]);
    }

    // Trends: 30 days of both series, each day as the API says it is.
    for (const series of dashboard.trends.series) {
      const days = await page
        .locator(`[data-role="day"][data-series="${series.key}"]`)
        .evaluateAll((els) => els.map((el) => [el.dataset.date, el.dataset.state]));
      assert.deepEqual(days, series.points.map((p) => [p.date, p.state]), series.key);
      assert.equal(days.length, 30);
      const drawn = await page
        .locator(`[data-role="point"][data-series="${series.key}"]`)
        .evaluateAll((els) => els.map((el) => [el.dataset.date, Number(el.dataset.value)]));
      assert.deepEqual(
        drawn,
        series.points.filter((p) => p.state === 'ok').map((p) => [p.date, p.value]),
        series.key,
      );
    }
    // The tooltip of a day: each series' value, or what the day is instead.
    const reactivation = dashboard.trends.series.find((s) => s.key === 'reactivation_rate');
    const day = reactivation.points[14];
    const point = page.locator(`[data-role="point"][data-series="reactivation_rate"][data-date="${day.date}"]`);
    await point.scrollIntoViewIfNeeded(); // the insight cards above may push the chart below the fold
    const box = await point.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const tooltip = page.locator('.cp-tooltip');
    await tooltip.waitFor();
    const tip = await tooltip.textContent();
    const [y, m, d] = day.date.split('-');
    assert.ok(tip.startsWith(`${d}/${m}/${y}`), tip);
    assert.ok(tip.includes(`Taxa de sucesso da reativação: ${new Intl.NumberFormat('pt-BR', { maximumFractionDigits: 1 }).format(day.value)}%`), tip);

    // Proposals: the pending ones, with their change; a viewer's key has no buttons.
    assert.equal(
      await page.locator('#cp-proposals').textContent(),
      `Propostas Pendentes (${dashboard.pending_proposals.total})`,
    );
    const pending = page.getByTestId('pending-proposals').locator('[data-proposal-id]');
    assert.deepEqual(await ids(pending), dashboard.pending_proposals.items.map((p) => p.id));
    assert.equal(await page.getByRole('button', { name: /Aprovar/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Rejeitar/ }).count(), 0);

    await page.screenshot({ path: join(ARTIFACTS, 'performance-viewer.png'), fullPage: true });

    // The key is asked once per session: a reload keeps it.
    await page.reload();
    await page.getByTestId('week-label').waitFor();
    assert.equal(await page.getByLabel('Chave de API do chanperf').count(), 0);
    await context.close();

    // An approver's key: Aprovar and Rejeitar on every pending card. The page as the
    // README shows it, before any test changes the demo.
    const approver = await open('approver');
    const buttons = approver.page.getByTestId('pending-proposals').getByRole('button');
    assert.deepEqual(
      await buttons.allTextContents(),
      dashboard.pending_proposals.items.flatMap(() => ['✓ Aprovar', '✗ Rejeitar']),
    );
    await approver.page.screenshot({ path: join(ARTIFACTS, 'performance-page.png'), fullPage: true });
    await approver.context.close();
  });

  it('lists every insight with filters and opens one with its evidence and proposal', async () => {
    const { context, page } = await open('analyst');
    await page.getByRole('button', { name: 'Ver todos' }).click();
    await page.getByLabel('Severidade').selectOption('MEDIUM');
    await page.getByLabel('Status').selectOption('NEW');
    const medium = await api.viewer.getInsights({ severity: 'MEDIUM', status: 'NEW', sort: '-severity,-id', page_size: 10 });
    const list = page.getByTestId('all-insights').locator('[data-insight-id]');
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="all-insights"] [data-severity="MEDIUM"]').length === n &&
        document.querySelectorAll('[data-testid="all-insights"] [data-insight-id]').length === n,
      medium.items.length,
    );
    assert.deepEqual(await ids(list), medium.items.map((i) => i.id));
    assert.equal(await list.first().evaluate((el) => getComputedStyle(el).borderLeftColor), SEVERITY_COLOURS.MEDIUM);

    // The insight a proposal came from: evidence, proposal, and the analyst's actions.
    const [proposal] = await api.viewer.getProposals();
    const insight = await api.viewer.getInsight(proposal.insight_id);
    await page.getByRole('button', { name: '← Voltar' }).click();
    await page.getByTestId('top-insights').locator(`[data-insight-id="${insight.id}"]`).getByRole('button').click();
    await page.getByTestId('insight-status').waitFor();
    assert.equal(await page.getByTestId('insight-status').textContent(), 'Novo');
    const evidence = await page.locator('.cp-evidence dt').allTextContents();
    assert.deepEqual(evidence, Object.keys(insight.evidence).filter((k) => k !== 'drilldown'));
    assert.ok((await page.locator(`[data-proposal-id="${proposal.id}"]`).textContent()).startsWith(proposal.title));

    await page.getByRole('button', { name: 'Marcar como revisado' }).click();
    await page.getByText('Revisado', { exact: true }).waitFor();
    const reviewed = await api.viewer.getInsight(insight.id);
    assert.equal(reviewed.status, 'REVIEWED');
    assert.equal(reviewed.reviewed_by, 'analyst-e2e');
    await context.close();
  });

  it('approves as an approver: the proposal leaves "Pendentes" and the API shows it APPROVED; a stale page gets the 409', async () => {
    const before = await api.viewer.getProposals();
    const [first, second] = before;
    const { context, page } = await open('approver');
    const stale = await context.newPage(); // a second tab of the same approver, opened before
    await stale.goto(`${server.url}/performance/?as_of=${DEMO_AS_OF}`);
    await stale.getByLabel('Chave de API do chanperf').fill(server.keys.approver);
    await stale.getByRole('button', { name: 'Entrar' }).click();
    await stale.getByTestId('pending-proposals').waitFor();

    const card = page.getByTestId('pending-proposals').locator(`[data-proposal-id="${first.id}"]`);
    assert.equal(await card.getByTestId('proposal-change').textContent(), '10% → 5%');
    await card.getByRole('button', { name: '✓ Aprovar' }).click();
    await page.getByRole('heading', { name: `Propostas Pendentes (${before.length - 1})` }).waitFor();
    assert.deepEqual(
      await ids(page.getByTestId('pending-proposals').locator('[data-proposal-id]')),
      before.slice(1).map((p) => p.id),
    );
    assert.match(
      await page.getByTestId('decided-proposals').getByRole('status').textContent(),
      /^Aprovada por approver-e2e em \d\d\/\d\d\/\d{4} \d\d:\d\d$/,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'performance-approved.png'), fullPage: true });
    const approved = (await api.viewer.getProposals('ALL')).find((p) => p.id === first.id);
    assert.equal(approved.status, 'APPROVED');
    assert.equal(approved.approved_by, 'approver-e2e');
    assert.deepEqual((await api.viewer.getProposals()).map((p) => p.id), [second.id]);

    // The other tab still shows it pending: approving there is the conflict it is.
    await stale.getByTestId('pending-proposals').locator(`[data-proposal-id="${first.id}"]`).getByRole('button', { name: '✓ Aprovar' }).click();
    const alert = stale.getByRole('alert');
    await alert.waitFor();
    assert.equal(
      await alert.evaluate((el) => el.firstChild.textContent),
      `Conflito: a proposta já não está pendente — outra pessoa a decidiu antes (proposal ${first.id} is APPROVED; only PENDING_REVIEW can be approved).`,
    );
    await stale.getByRole('button', { name: 'Atualizar propostas' }).click();
    await stale.getByRole('heading', { name: `Propostas Pendentes (${before.length - 1})` }).waitFor();

    // Rejecting asks a reason.
    const other = page.getByTestId('pending-proposals').locator(`[data-proposal-id="${second.id}"]`);
    await other.getByRole('button', { name: '✗ Rejeitar' }).click();
    await other.getByLabel('Motivo da rejeição').fill('kit B sem estoque no Norte');
    await other.getByRole('button', { name: 'Confirmar rejeição' }).click();
    await page.getByRole('heading', { name: 'Propostas Pendentes (0)' }).waitFor();
    const rejected = (await api.viewer.getProposals('ALL')).find((p) => p.id === second.id);
    assert.equal(rejected.status, 'REJECTED');
    assert.equal(rejected.rejection_reason, 'kit B sem estoque no Norte');
    await context.close();
  });

  it('loaded nothing from outside the server and logged no error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(problems, []);
  });
});
