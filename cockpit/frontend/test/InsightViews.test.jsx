// "Ver todos": the full list with its filters, and an insight's detail with its actions.
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import InsightDetail from '../src/components/performance/InsightDetail.jsx';
import PerformancePage from '../src/pages/PerformancePage.jsx';
import insight5 from './fixtures/insight-5.json';
import topInsights from './fixtures/insights-top.json';
import { apiError, clone, fakeService } from './fakeService.js';

const DRILLDOWN = [
  { dimension: 'region', value: 'NORTE', rate_b: 0.52, n_b: 120, differs: true },
  { dimension: 'region', value: 'SUL', rate_b: 0.18, n_b: 95, differs: false },
];

async function openAll(service) {
  render(<PerformancePage service={service} />);
  await userEvent.click(await screen.findByRole('button', { name: 'Ver todos' }));
  return screen.findByTestId('all-insights');
}

describe('Ver todos', () => {
  it('lists every insight, sorted by severity, with filters and pages', async () => {
    const service = fakeService();
    const list = await openAll(service);
    expect(service.getInsights).toHaveBeenLastCalledWith({ sort: '-severity,-id', page: 1, page_size: 10 });
    expect(screen.getByRole('heading', { name: 'Todos os insights' })).toBeInTheDocument();
    expect(screen.getByTestId('insight-total')).toHaveTextContent('22 insights');
    expect(within(list).getAllByText('Novo')).toHaveLength(3);
    expect(screen.getByText('Página 1 de 3')).toBeInTheDocument();

    await userEvent.selectOptions(screen.getByLabelText('Severidade'), 'HIGH');
    await waitFor(() =>
      expect(service.getInsights).toHaveBeenLastCalledWith({ severity: 'HIGH', sort: '-severity,-id', page: 1, page_size: 10 }),
    );
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'REVIEWED');
    await userEvent.selectOptions(screen.getByLabelText('Categoria'), 'quality');
    await userEvent.selectOptions(screen.getByLabelText('Tipo'), 'EXECUTION_DRIFT');
    await userEvent.type(screen.getByLabelText('Região'), 'norte{Enter}');
    await userEvent.type(screen.getByLabelText('Segmento'), 'prata{Enter}');
    await waitFor(() =>
      expect(service.getInsights).toHaveBeenLastCalledWith({
        severity: 'HIGH',
        status: 'REVIEWED',
        category: 'quality',
        type: 'EXECUTION_DRIFT',
        region: 'NORTE',
        segment: 'PRATA',
        sort: '-severity,-id',
        page: 1,
        page_size: 10,
      }),
    );

    await userEvent.selectOptions(screen.getByLabelText('Severidade'), '');
    await userEvent.click(await screen.findByRole('button', { name: 'Próxima' }));
    await waitFor(() => expect(service.getInsights).toHaveBeenLastCalledWith(expect.objectContaining({ page: 2 })));
    expect(service.getInsights.mock.lastCall[0]).not.toHaveProperty('severity');
  });

  it('says when no insight matches', async () => {
    const service = fakeService();
    service.getInsights.mockImplementation(async ({ page_size: size }) =>
      size === 3
        ? { items: clone(topInsights), pagination: { total: 22, total_pages: 8, page: 1 } }
        : { items: [], pagination: { total: 0, total_pages: 0, page: 1 } },
    );
    render(<PerformancePage service={service} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Ver todos' }));
    expect(await screen.findByText('Nenhum insight com estes filtros.')).toBeInTheDocument();
  });

  it('opens an insight from the list and comes back to the list', async () => {
    const service = fakeService();
    const list = await openAll(service);
    await userEvent.click(within(list).getByRole('button', { name: topInsights[0].title }));
    expect(await screen.findByRole('heading', { name: `CRITICAL ${topInsights[0].title}` })).toBeInTheDocument();
    expect(service.getInsight).toHaveBeenCalledWith(5);
    await userEvent.click(screen.getByRole('button', { name: '← Voltar' }));
    expect(await screen.findByRole('heading', { name: 'Todos os insights' })).toBeInTheDocument();
  });
});

describe('InsightDetail', () => {
  it('shows the observation, suggestion, impact, evidence and the proposal made from it', async () => {
    const service = fakeService();
    const { container } = render(<InsightDetail service={service} insightId={5} />);
    expect(await screen.findByTestId('insight-status')).toHaveTextContent('Novo');
    expect(screen.getByText(insight5.observation)).toBeInTheDocument();
    expect(screen.getByText('Sugestão:').parentElement).toHaveTextContent(`Sugestão: ${insight5.recommendation}`);
    expect(screen.getByText('Impacto estimado:').parentElement).toHaveTextContent(
      'Impacto estimado: R$ 4.480,68/mês, 166 contas',
    );
    const evidence = container.querySelector('.cp-evidence');
    const row = (key) => [...evidence.querySelectorAll('.cp-evidence__row')].find((r) => r.firstChild.textContent === key);
    expect(row('high_discount_reincidence').lastChild).toHaveTextContent('0,446');
    expect(row('p_value').lastChild).toHaveTextContent('9,66e-14');
    expect(row('filters').lastChild).toHaveTextContent('{"discount_gt":"8","discount_lte":"5"}');
    expect(screen.queryByText('Detalhamento por recorte')).toBeNull(); // absent: no drill-down section
    const proposal = container.querySelector('[data-proposal-id="2"]');
    expect(proposal).toHaveTextContent(
      'Alterar reactivation.max_discount_pct de 10 para 5: 10% → 5% — Pendente · impacto esperado: -60% reincidência, -R$ 881 custo/mês',
    );
    // A viewer's key: no actions.
    expect(screen.queryByRole('button', { name: 'Marcar como revisado' })).toBeNull();
  });

  it('shows the drill-down of a channel-wide insight and its label when present', async () => {
    const service = fakeService();
    service.getInsight.mockResolvedValue({
      ...clone(insight5),
      label: 'TRUE_POSITIVE',
      proposals: [],
      evidence: { ...clone(insight5.evidence), drilldown: DRILLDOWN },
    });
    const { container } = render(<InsightDetail service={service} insightId={5} />);
    expect(await screen.findByText('Detalhamento por recorte')).toBeInTheDocument();
    const rows = [...container.querySelectorAll('.cp-drilldown tbody tr')].map((tr) =>
      [...tr.children].map((td) => td.textContent),
    );
    expect(rows).toEqual([
      ['Região', 'NORTE', '52%', '120', 'difere'],
      ['Região', 'SUL', '18%', '95', ''],
    ]);
    expect(container.querySelector('.cp-drilldown--differs')).toHaveTextContent('NORTE');
    expect(screen.getByText(/classificação: Verdadeiro positivo/)).toBeInTheDocument();
    expect(screen.getByText('Nenhuma proposta gerada a partir deste insight.')).toBeInTheDocument();
  });

  it('lets an analyst act, following the workflow, with the API answer', async () => {
    const service = fakeService();
    const onChanged = vi.fn();
    service.actOnInsight.mockImplementation(async (id, body) => ({
      ...clone(insight5),
      proposals: undefined,
      status: { review: 'REVIEWED', dismiss: 'DISMISSED' }[body.action],
      reviewed_by: 'analyst-e2e',
    }));
    render(<InsightDetail service={service} insightId={5} canAct onChanged={onChanged} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Marcar como revisado' }));
    expect(service.actOnInsight).toHaveBeenCalledWith(5, { action: 'review' });
    expect(await screen.findByTestId('insight-status')).toHaveTextContent('Revisado');
    expect(screen.getByText(/revisado por analyst-e2e/)).toBeInTheDocument();
    expect(onChanged).toHaveBeenCalled();
    // The proposals stay: the action's answer has none.
    expect(screen.getByText(/Alterar reactivation.max_discount_pct de 10 para 5/)).toBeInTheDocument();
    expect(screen.getAllByRole('button').map((b) => b.textContent)).toEqual(['Iniciar', 'Descartar']);

    await userEvent.click(screen.getByRole('button', { name: 'Descartar' }));
    await userEvent.click(screen.getByRole('button', { name: 'Confirmar: descartar' }));
    expect(screen.getByText('Preencha: motivo do descarte.')).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Motivo do descarte'), 'efeito sazonal conhecido');
    await userEvent.click(screen.getByRole('button', { name: 'Confirmar: descartar' }));
    expect(service.actOnInsight).toHaveBeenLastCalledWith(5, { action: 'dismiss', reason: 'efeito sazonal conhecido' });
    expect(await screen.findByTestId('insight-status')).toHaveTextContent('Descartado');
    expect(screen.getByRole('button', { name: 'Reabrir' })).toBeInTheDocument();
  });

  it('asks implementation notes before marking implemented', async () => {
    const service = fakeService();
    service.getInsight.mockResolvedValue({ ...clone(insight5), status: 'IN_PROGRESS' });
    service.actOnInsight.mockResolvedValue({ ...clone(insight5), status: 'IMPLEMENTED', implementation_notes: 'teto de 5% desde 01/07' });
    render(<InsightDetail service={service} insightId={5} canAct />);
    await userEvent.click(await screen.findByRole('button', { name: 'Marcar como implementado' }));
    await userEvent.type(screen.getByLabelText('Notas da implementação'), 'teto de 5% desde 01/07');
    await userEvent.click(screen.getByRole('button', { name: 'Confirmar: marcar como implementado' }));
    expect(service.actOnInsight).toHaveBeenCalledWith(5, { action: 'implement', implementation_notes: 'teto de 5% desde 01/07' });
    expect(await screen.findByText('Implementação:')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Marcar/ })).toBeNull();
  });

  it('shows a 409 as a conflict and reloads the insight', async () => {
    const service = fakeService();
    service.actOnInsight.mockRejectedValue(apiError(409, 'insight 5 is REVIEWED; review needs it NEW'));
    render(<InsightDetail service={service} insightId={5} canAct />);
    service.getInsight.mockResolvedValueOnce({ ...clone(insight5), status: 'REVIEWED', reviewed_by: 'maria' });
    await userEvent.click(await screen.findByRole('button', { name: 'Marcar como revisado' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveClass('cp-alert--conflict');
    expect(alert).toHaveTextContent('Conflito: o insight mudou de status antes desta ação (insight 5 is REVIEWED; review needs it NEW).');
    await waitFor(() => expect(screen.getByTestId('insight-status')).toHaveTextContent('Revisado'));
    expect(service.getInsight).toHaveBeenCalledTimes(2);
  });

  it('has a loading and an error state', async () => {
    const service = fakeService();
    service.getInsight.mockRejectedValueOnce(apiError(404, 'insight 77 not found'));
    render(<InsightDetail service={service} insightId={77} />);
    expect(screen.getByText('Carregando insight…')).toBeInTheDocument();
    expect(await screen.findByRole('alert')).toHaveTextContent('Não foi possível carregar o insight (404): insight 77 not found');
    await userEvent.click(screen.getByRole('button', { name: 'Tentar de novo' }));
    expect(await screen.findByTestId('insight-status')).toBeInTheDocument();
  });
});
