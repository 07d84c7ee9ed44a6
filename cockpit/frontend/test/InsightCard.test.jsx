import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import InsightCard from '../src/components/performance/InsightCard.jsx';
import insights from './fixtures/insights-top.json';

const renderCard = (props) => render(<ul>{<InsightCard {...props} />}</ul>);

describe('InsightCard', () => {
  it('shows the severity, the title and the suggestion', () => {
    const { container } = renderCard({ insight: insights[0] });
    const item = container.querySelector('li');
    expect(item).toHaveClass('cp-insight', 'cp-insight--critical');
    expect(item).toHaveAttribute('data-severity', 'CRITICAL');
    expect(item.querySelector('.cp-severity')).toHaveClass('cp-severity--critical');
    expect(item.querySelector('.cp-severity')).toHaveAttribute('title', 'Severidade Crítica');
    expect(item.querySelector('.cp-insight__head')).toHaveTextContent(
      'CRITICAL:Descontos > 8% aumentam a reincidência em 90 dias',
    );
    expect(item.querySelector('.cp-insight__suggestion')).toHaveTextContent(
      'Sugestão: Reduzir limite máximo de desconto em reativação de 10% para 5%',
    );
  });

  it.each([
    ['CRITICAL', 'cp-insight--critical', 'Crítica'],
    ['HIGH', 'cp-insight--high', 'Alta'],
    ['MEDIUM', 'cp-insight--medium', 'Média'],
    ['LOW', 'cp-insight--low', 'Baixa'],
  ])('colours %s with its own class', (severity, cls, label) => {
    const { container } = renderCard({ insight: { ...insights[1], severity } });
    expect(container.querySelector('li')).toHaveClass(cls);
    expect(container.querySelector('.cp-severity')).toHaveAttribute('title', `Severidade ${label}`);
  });

  it('opens the insight when its title is clicked', async () => {
    const onOpen = vi.fn();
    renderCard({ insight: insights[1], onOpen });
    await userEvent.click(screen.getByRole('button', { name: insights[1].title }));
    expect(onOpen).toHaveBeenCalledWith(insights[1]);
  });

  it('is plain text without onOpen, says when there is no suggestion, and shows the status in the full list', () => {
    renderCard({ insight: { ...insights[2], recommendation: null }, showStatus: true });
    expect(screen.queryByRole('button')).toBeNull();
    expect(screen.getByText('Sem sugestão registrada.')).toBeInTheDocument();
    expect(screen.getByText('Novo')).toHaveClass('cp-status--new');
  });

  // The planted demo's channel-wide NPS drop, one region falling further (own insight too).
  const NPS_CUTS = [
    { dimension: 'region', value: 'NORTE', rate_a: 29.7, rate_b: -61.5, n_b: 58, differs: true, own_insight: true },
    { dimension: 'region', value: 'SUL', rate_a: 23.0, rate_b: -5.26, n_b: 57, differs: false, own_insight: false },
    { dimension: 'segment', value: 'OURO', rate_a: 21.1, rate_b: 0, n_b: 80, differs: false, own_insight: false },
  ];

  it('shows the cuts of a channel-wide insight in a small table under it, with a "difere" badge', () => {
    const insight = { ...insights[1], evidence: { metric: 'nps', rate_b: -8.1, drilldown: NPS_CUTS } };
    const { container } = renderCard({ insight });
    const details = container.querySelector('.cp-insight__drilldown');
    expect(details.querySelector('summary')).toHaveTextContent('Por recorte: 3 recortes, 1 difere');
    const rows = [...details.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
    // NPS in points, not percent; the sample in whole numbers; pt-BR dimension names
    expect(rows).toEqual([
      ['Região', 'NORTE', '-62', '58', 'difere'],
      ['Região', 'SUL', '-5', '57', ''],
      ['Segmento', 'OURO', '0', '80', ''],
    ]);
    const badge = details.querySelector('.cp-badge--differs');
    expect(badge.closest('tr')).toHaveAttribute('data-value', 'NORTE');
    expect(badge).toHaveAttribute('title', 'Difere do restante do escopo; listado também como insight próprio');
    expect(details.querySelectorAll('.cp-drilldown--differs')).toHaveLength(1);
  });

  it('shows shares as percent and says when no cut differs', () => {
    const cuts = [
      { dimension: 'segment', value: 'PRATA', rate_b: 0.412, n_b: 1200, differs: false },
      { dimension: 'segment', value: 'BRONZE', rate_b: 0.4, n_b: 950, differs: false },
    ];
    const { container } = renderCard({ insight: { ...insights[1], evidence: { metric: 'win_rate', drilldown: cuts } } });
    expect(container.querySelector('summary')).toHaveTextContent('Por recorte: 2 recortes, nenhum difere');
    const rates = [...container.querySelectorAll('tbody tr td:nth-child(3)')].map((td) => td.textContent);
    expect(rates).toEqual(['41,2%', '40%']);
    expect(container.querySelectorAll('tbody tr td:nth-child(4)')[0]).toHaveTextContent('1.200');
    expect(container.querySelector('.cp-badge--differs')).toBeNull();
  });

  it('has no drill-down without cuts', () => {
    const { container } = renderCard({ insight: { ...insights[1], evidence: { metric: 'nps', drilldown: [] } } });
    expect(container.querySelector('.cp-insight__drilldown')).toBeNull();
    renderCard({ insight: insights[0] });
    expect(document.querySelector('.cp-drilldown')).toBeNull();
  });
});
