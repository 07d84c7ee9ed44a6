import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import PerformancePage from '../src/pages/PerformancePage.jsx';
import dashboard from './fixtures/dashboard.json';
import topInsights from './fixtures/insights-top.json';
import { apiError, dashboardFor, fakeService } from './fakeService.js';

const heading = (name) => screen.getByRole('heading', { name });
const pendingIds = () =>
  [...screen.getByTestId('pending-proposals').querySelectorAll('[data-proposal-id]')].map((el) =>
    Number(el.dataset.proposalId),
  );

describe('PerformancePage', () => {
  it('shows that it is loading', () => {
    const service = fakeService({ overrides: { getDashboardData: vi.fn(() => new Promise(() => {})) } });
    render(<PerformancePage service={service} />);
    expect(heading('Performance do Canal — Esta Semana')).toBeInTheDocument();
    expect(screen.getByText('Carregando a performance do canal…')).toHaveAttribute('aria-busy', 'true');
  });

  it('draws the four sections of the design from the dashboard, for the day asked', async () => {
    const service = fakeService();
    const { container } = render(<PerformancePage service={service} asOf="2026-06-30" />);
    expect(await screen.findByTestId('week-label')).toHaveTextContent(
      'Semana 26/2026 (22/06–28/06) · viewer-e2e (leitura)',
    );
    expect(service.getDashboardData).toHaveBeenCalledWith({ as_of: '2026-06-30' });
    expect(heading('Performance do Canal — Esta Semana')).toBeInTheDocument();

    expect([...container.querySelectorAll('[data-kpi]')].map((el) => el.dataset.kpi)).toEqual([
      'onboarding_rate',
      'reactivation_rate',
      'revenue_growth',
    ]);
    expect(screen.getByTestId('kpi-value-reactivation_rate')).toHaveTextContent('44%');

    expect(heading('Insights (22 novos)')).toBeInTheDocument();
    expect(service.getInsights).toHaveBeenCalledWith({ status: 'NEW', sort: '-severity,-id', page_size: 3 });
    const cards = await screen.findByTestId('top-insights');
    expect([...cards.querySelectorAll('[data-insight-id]')].map((el) => Number(el.dataset.insightId))).toEqual(
      topInsights.map((i) => i.id),
    );
    expect(screen.getByRole('button', { name: 'Ver todos' })).toBeInTheDocument();

    expect(heading('Tendências')).toBeInTheDocument();
    expect(screen.getByTestId('trend-chart')).toBeInTheDocument();

    expect(heading('Propostas Pendentes (2)')).toBeInTheDocument();
    expect(pendingIds()).toEqual([2, 1]);
    // A viewer's key may not approve: no buttons.
    expect(screen.queryByRole('button', { name: '✓ Aprovar' })).toBeNull();
    expect(screen.queryByRole('button', { name: '✗ Rejeitar' })).toBeNull();
  });

  it('takes the default day of the API when no day is given', async () => {
    const service = fakeService();
    render(<PerformancePage service={service} />);
    await screen.findByTestId('week-label');
    expect(service.getDashboardData).toHaveBeenCalledWith({});
  });

  it('approves as an approver: the card leaves "Pendentes" and shows the answer of the API', async () => {
    const service = fakeService({ role: 'approver' });
    const after = dashboardFor('approver');
    after.pending_proposals = { ...after.pending_proposals, total: 1, items: after.pending_proposals.items.slice(1) };
    render(<PerformancePage service={service} />);
    await screen.findByTestId('pending-proposals');
    expect(screen.getAllByRole('button', { name: '✓ Aprovar' })).toHaveLength(2);

    service.getDashboardData.mockResolvedValueOnce(after);
    const card = screen.getByTestId('pending-proposals').querySelector('[data-proposal-id="2"]');
    await userEvent.click(within(card).getByRole('button', { name: '✓ Aprovar' }));

    expect(service.approveProposal).toHaveBeenCalledWith(2);
    expect(await screen.findByRole('heading', { name: 'Propostas Pendentes (1)' })).toBeInTheDocument();
    expect(pendingIds()).toEqual([1]);
    const decided = screen.getByTestId('decided-proposals');
    expect(within(decided).getByRole('status')).toHaveTextContent('Aprovada por approver-e2e em 01/07/2026 10:15');
    await waitFor(() => expect(service.getDashboardData).toHaveBeenCalledTimes(2));
    expect(heading('Propostas Pendentes (1)')).toBeInTheDocument();
  });

  it('rejects with a reason as an approver', async () => {
    const service = fakeService({ role: 'approver' });
    render(<PerformancePage service={service} />);
    const list = await screen.findByTestId('pending-proposals');
    const card = list.querySelector('[data-proposal-id="1"]');
    await userEvent.click(within(card).getByRole('button', { name: '✗ Rejeitar' }));
    await userEvent.type(within(card).getByLabelText('Motivo da rejeição'), 'kit B sem estoque no Norte');
    await userEvent.click(within(card).getByRole('button', { name: 'Confirmar rejeição' }));
    expect(service.rejectProposal).toHaveBeenCalledWith(1, 'kit B sem estoque no Norte');
    expect(await screen.findByRole('heading', { name: 'Propostas Pendentes (1)' })).toBeInTheDocument();
    expect(within(screen.getByTestId('decided-proposals')).getByRole('status')).toHaveTextContent(
      'Rejeitada por approver-e2e em 01/07/2026 10:16: “kit B sem estoque no Norte”',
    );
  });

  it('keeps a proposal someone else decided on screen as a conflict', async () => {
    const service = fakeService({ role: 'approver' });
    service.approveProposal.mockRejectedValueOnce(
      apiError(409, 'proposal 2 is REJECTED; only PENDING_REVIEW can be approved'),
    );
    render(<PerformancePage service={service} />);
    const list = await screen.findByTestId('pending-proposals');
    await userEvent.click(within(list.querySelector('[data-proposal-id="2"]')).getByRole('button', { name: '✓ Aprovar' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Conflito: a proposta já não está pendente');
    expect(pendingIds()).toEqual([2, 1]);
    await userEvent.click(screen.getByRole('button', { name: 'Atualizar propostas' }));
    await waitFor(() => expect(service.getDashboardData).toHaveBeenCalledTimes(2));
  });

  it('shows an error with the API code and message, and tries again', async () => {
    const service = fakeService();
    service.getDashboardData.mockRejectedValueOnce(apiError(503, 'database not reachable'));
    render(<PerformancePage service={service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Não foi possível carregar a performance do canal (503): database not reachable',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Tentar de novo' }));
    expect(await screen.findByTestId('week-label')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('tells the host when the key is refused', async () => {
    const onUnauthorized = vi.fn();
    const refused = apiError(401, 'invalid API key');
    const service = fakeService({ overrides: { getDashboardData: vi.fn(async () => Promise.reject(refused)) } });
    render(<PerformancePage service={service} onUnauthorized={onUnauthorized} />);
    await waitFor(() => expect(onUnauthorized).toHaveBeenCalledWith(refused));
  });

  it('has empty states: no new insight, no pending proposal, no trend', async () => {
    const empty = dashboardFor('approver');
    empty.new_insights = { ...empty.new_insights, total: 0 };
    empty.pending_proposals = { label: 'Propostas pendentes', total: 0, items: [] };
    empty.trends = { ...empty.trends, series: [] };
    const service = fakeService({
      overrides: {
        getDashboardData: vi.fn(async () => empty),
        getInsights: vi.fn(async () => ({ items: [], pagination: { total: 0, total_pages: 0, page: 1 } })),
      },
    });
    render(<PerformancePage service={service} />);
    expect(await screen.findByText('Nenhum insight novo.')).toBeInTheDocument();
    expect(heading('Insights (0 novos)')).toBeInTheDocument();
    expect(heading('Propostas Pendentes (0)')).toBeInTheDocument();
    expect(screen.getByText('Nenhuma proposta pendente.')).toBeInTheDocument();
    expect(screen.getByText('Sem dados de tendência para o período.')).toBeInTheDocument();
  });

  it('says when the insights could not be loaded, apart from the rest of the page', async () => {
    const service = fakeService();
    service.getInsights.mockRejectedValueOnce(apiError(500, 'boom'));
    render(<PerformancePage service={service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('Não foi possível carregar os insights (500): boom');
    expect(heading('Propostas Pendentes (2)')).toBeInTheDocument();
  });

  it('says "1 novo" for a single new insight', async () => {
    const one = dashboardFor();
    one.new_insights = { ...dashboard.new_insights, total: 1 };
    render(<PerformancePage service={fakeService({ overrides: { getDashboardData: vi.fn(async () => one) } })} />);
    expect(await screen.findByRole('heading', { name: 'Insights (1 novo)' })).toBeInTheDocument();
  });
});
