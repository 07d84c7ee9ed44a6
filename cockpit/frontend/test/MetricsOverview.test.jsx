import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import MetricsOverview from '../src/components/performance/MetricsOverview.jsx';
import dashboard from './fixtures/dashboard.json';

const card = (container, key) => container.querySelector(`[data-kpi="${key}"]`);

describe('MetricsOverview', () => {
  it('draws the three cards of the demo week: value, bar or arrow, and the comparison', () => {
    const { container } = render(<MetricsOverview kpis={dashboard.kpis} />);
    expect([...container.querySelectorAll('.cp-kpi__label')].map((el) => el.textContent)).toEqual([
      'Onboarding',
      'Reativação',
      'Crescimento',
    ]);

    // Onboarding: the week's cohort is not mature yet — no value, never a zero.
    const onboarding = card(container, 'onboarding_rate');
    expect(within(onboarding).getByTestId('kpi-value-onboarding_rate')).toHaveTextContent('—');
    expect(within(onboarding).getByRole('meter')).not.toHaveAttribute('aria-valuenow');
    expect(onboarding.querySelector('.cp-kpi__bar-fill').style.width).toBe('0%');
    expect(within(onboarding).getByTestId('kpi-comparison-onboarding_rate')).toHaveTextContent('Sem dados');
    expect(onboarding).toHaveClass('cp-kpi--neutral');

    const reactivation = card(container, 'reactivation_rate');
    expect(within(reactivation).getByTestId('kpi-value-reactivation_rate')).toHaveTextContent('44%');
    expect(within(reactivation).getByRole('meter')).toHaveAttribute('aria-valuenow', '44.16');
    expect(reactivation.querySelector('.cp-kpi__bar-fill').style.width).toBe('44.16%');
    expect(within(reactivation).getByTestId('kpi-comparison-reactivation_rate')).toHaveTextContent(
      '↓ vs sem. (−2,3 p.p.)',
    );
    expect(reactivation).toHaveClass('cp-kpi--bad');
    expect(reactivation).toHaveAttribute(
      'title',
      'Semana 26/2026 (22/06–28/06): 44,2%; Semana 25/2026 (15/06–21/06): 46,5%',
    );

    const growth = card(container, 'revenue_growth');
    expect(within(growth).getByTestId('kpi-value-revenue_growth')).toHaveTextContent('-6%');
    expect(within(growth).queryByRole('meter')).toBeNull();
    expect(growth.querySelector('.cp-kpi__growth')).toHaveTextContent('▼ruim');
    expect(within(growth).getByTestId('kpi-comparison-revenue_growth')).toHaveTextContent(
      '↓ receita vs semana anterior (−13,6 p.p.)',
    );
  });

  it('shows a better week in good colours, with the up arrow and "bom"', () => {
    const kpis = [
      { ...dashboard.kpis[0], value: 78, display: '78%', previous: 75, delta: 3, trend: 'up', trend_label: 'Em alta', improved: true },
      { ...dashboard.kpis[2], value: 12, display: '+12%', previous: 4, delta: 8, trend: 'up', trend_label: 'Em alta', improved: true },
    ];
    const { container } = render(<MetricsOverview kpis={kpis} />);
    expect(card(container, 'onboarding_rate')).toHaveClass('cp-kpi--good');
    expect(screen.getByTestId('kpi-comparison-onboarding_rate')).toHaveTextContent('↑ vs sem. (+3 p.p.)');
    expect(card(container, 'revenue_growth').querySelector('.cp-kpi__growth')).toHaveTextContent('▲bom');
    expect(screen.getByTestId('kpi-value-revenue_growth')).toHaveTextContent('+12%');
  });

  it('says flat when nothing moved', () => {
    const kpis = [{ ...dashboard.kpis[1], delta: 0, trend: 'flat', improved: null }];
    render(<MetricsOverview kpis={kpis} />);
    expect(screen.getByTestId('kpi-comparison-reactivation_rate')).toHaveTextContent('→ vs sem. (±0 p.p.)');
  });

  it('has a loading and an empty state', () => {
    const { rerender } = render(<MetricsOverview loading />);
    expect(screen.getByText('Carregando métricas…')).toBeInTheDocument();
    rerender(<MetricsOverview kpis={[]} />);
    expect(screen.getByText('Sem métricas para esta semana.')).toBeInTheDocument();
  });
});
