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
});
