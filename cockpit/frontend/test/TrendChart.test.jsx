import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import TrendChart, { TrendTooltip, chartRows } from '../src/components/performance/TrendChart.jsx';
import dashboard from './fixtures/dashboard.json';

function series(key, label, states) {
  return {
    key,
    label,
    points: states.map(([state, value], i) => ({
      date: `2026-06-${String(i + 1).padStart(2, '0')}`,
      state,
      value: state === 'ok' ? value : null,
    })),
  };
}

const MIXED = {
  label: 'Taxa de ativação vs reativação (últimos 30 dias)',
  start: '2026-06-01',
  end: '2026-06-05',
  unit: '%',
  series: [
    series('onboarding_rate', 'Taxa de ativação', [
      ['ok', 40],
      ['ok', 50],
      ['censored'],
      ['empty'],
      ['missing'],
    ]),
    series('reactivation_rate', 'Taxa de sucesso da reativação', [
      ['ok', 30],
      ['missing'],
      ['ok', 0],
      ['ok', 45.5],
      ['ok', 60],
    ]),
  ],
};

const marks = (container, key) =>
  [...container.querySelectorAll(`[data-role="day"][data-series="${key}"]`)].map((el) => [
    el.getAttribute('data-date').slice(-2),
    el.getAttribute('data-state'),
    el.getAttribute('data-value'),
  ]);

const points = (container, key) =>
  [...container.querySelectorAll(`[data-role="point"][data-series="${key}"]`)].map((el) => [
    el.getAttribute('data-date').slice(-2),
    Number(el.getAttribute('data-value')),
  ]);

describe('TrendChart', () => {
  it('marks every day of every series with its state, and draws only measured days as points', () => {
    const { container } = render(<TrendChart trends={MIXED} width={800} />);
    expect(marks(container, 'onboarding_rate')).toEqual([
      ['01', 'ok', '40'],
      ['02', 'ok', '50'],
      ['03', 'censored', ''],
      ['04', 'empty', ''],
      ['05', 'missing', ''],
    ]);
    expect(points(container, 'onboarding_rate')).toEqual([
      ['01', 40],
      ['02', 50],
    ]);
    // Each day's mark sits under its point.
    for (const point of container.querySelectorAll('[data-role="point"]')) {
      const mark = container.querySelector(
        `[data-role="day"][data-series="${point.dataset.series}"][data-date="${point.dataset.date}"]`,
      );
      expect(mark.getAttribute('cx')).toBe(point.getAttribute('cx'));
    }
    // A measured zero is a point at zero; a missing day is no point at all.
    expect(points(container, 'reactivation_rate')).toEqual([
      ['01', 30],
      ['03', 0],
      ['04', 45.5],
      ['05', 60],
    ]);
  });

  it('breaks a line at every day without a value', () => {
    const { container } = render(<TrendChart trends={MIXED} width={800} />);
    const paths = [...container.querySelectorAll('.recharts-line-curve')].map((el) => el.getAttribute('d'));
    const segments = (d) => (d.match(/M/g) ?? []).length;
    // Onboarding: 01–02 then nothing; reactivation: 01 alone, then 03–05.
    expect(paths.map(segments)).toEqual([1, 2]);
  });

  it('tells each series value or state of a day in the tooltip', () => {
    const rows = chartRows(MIXED.series);
    render(<TrendTooltip active label="2026-06-03" rows={rows} series={MIXED.series} />);
    expect(screen.getByRole('status')).toHaveTextContent(
      '03/06/2026Taxa de ativação: censurado: coorte ainda sem maturidadeTaxa de sucesso da reativação: 0%',
    );
  });

  it('tells an empty and a missing day apart in the tooltip', () => {
    const rows = chartRows(MIXED.series);
    render(<TrendTooltip active label="2026-06-05" rows={rows} series={MIXED.series} />);
    expect(screen.getByRole('status')).toHaveTextContent('Taxa de ativação: não coletado');
    expect(screen.getByRole('status')).toHaveTextContent('Taxa de sucesso da reativação: 60%');
  });

  it('draws the demo trends: 30 days of both series, the dates on the x axis', () => {
    const { container } = render(<TrendChart trends={dashboard.trends} width={900} />);
    const [onboarding, reactivation] = dashboard.trends.series;
    const expected = (s) => s.points.map((p) => [p.date.slice(-2), p.state, p.value === null ? '' : String(p.value)]);
    expect(marks(container, 'onboarding_rate')).toEqual(expected(onboarding));
    expect(marks(container, 'reactivation_rate')).toEqual(expected(reactivation));
    expect(marks(container, 'onboarding_rate')).toHaveLength(30);
    expect(points(container, 'reactivation_rate')).toHaveLength(30);
    expect(points(container, 'onboarding_rate')).toHaveLength(0); // every day censored in the demo
    expect(screen.getByText(/Taxa de ativação vs reativação \(últimos 30 dias\) — 01\/06\/2026 a 30\/06\/2026/)).toBeInTheDocument();
    const ticks = [...container.querySelectorAll('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value')].map(
      (el) => el.textContent,
    );
    expect(ticks[0]).toBe('01/06');
    expect(ticks.at(-1)).toBe('30/06');
    expect(screen.queryByRole('note')).toBeNull();
  });

  it('says so when no day of the period was measured', () => {
    const trends = {
      ...MIXED,
      series: MIXED.series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, state: 'missing', value: null })) })),
    };
    const { container } = render(<TrendChart trends={trends} width={800} />);
    expect(screen.getByRole('note')).toHaveTextContent('Nenhum dia medido no período');
    expect(container.querySelectorAll('[data-role="day"][data-state="missing"]')).toHaveLength(10);
    expect(container.querySelectorAll('[data-role="point"]')).toHaveLength(0);
  });

  it('has an empty state', () => {
    const { rerender } = render(<TrendChart trends={null} />);
    expect(screen.getByText('Sem dados de tendência para o período.')).toBeInTheDocument();
    rerender(<TrendChart trends={{ ...MIXED, series: [] }} />);
    expect(screen.getByText('Sem dados de tendência para o período.')).toBeInTheDocument();
  });
});
