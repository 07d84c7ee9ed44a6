import { formatPercent, formatPoints } from './format.js';

const ARROWS = { up: '↑', down: '↓', flat: '→' };

function tone(improved) {
  if (improved === true) return 'good';
  if (improved === false) return 'bad';
  return 'neutral';
}

function RateBar({ kpi }) {
  const filled = kpi.value === null ? 0 : Math.max(0, Math.min(100, kpi.value));
  return (
    <div
      className="cp-kpi__bar"
      role="meter"
      aria-label={`${kpi.label}: ${kpi.display}`}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={kpi.value ?? undefined}
    >
      <div className="cp-kpi__bar-fill" style={{ width: `${filled}%` }} />
    </div>
  );
}

function GrowthMark({ kpi }) {
  const word = kpi.improved === true ? 'bom' : kpi.improved === false ? 'ruim' : 'sem dados';
  const arrow = kpi.trend === 'up' ? '▲' : kpi.trend === 'down' ? '▼' : kpi.trend === 'flat' ? '▶' : '·';
  return (
    <div className="cp-kpi__growth">
      <span className="cp-kpi__growth-arrow" aria-hidden="true">
        {arrow}
      </span>
      <span className="cp-kpi__growth-word">{word}</span>
    </div>
  );
}

export function KpiCard({ kpi }) {
  const isRate = kpi.key.endsWith('_rate');
  const comparison =
    kpi.trend === null || kpi.trend === undefined
      ? `${kpi.trend_label}`
      : `${ARROWS[kpi.trend]} ${kpi.comparison_label} (${formatPoints(kpi.delta)})`;
  const title =
    kpi.previous === null || kpi.previous === undefined
      ? `${kpi.week_label}; ${kpi.previous_week_label}: sem dados`
      : `${kpi.week_label}: ${formatPercent(kpi.value)}; ${kpi.previous_week_label}: ${formatPercent(kpi.previous)}`;
  return (
    <article className={`cp-kpi cp-kpi--${tone(kpi.improved)}`} data-kpi={kpi.key} title={title}>
      <h3 className="cp-kpi__label">{kpi.label}</h3>
      <p className="cp-kpi__value" data-testid={`kpi-value-${kpi.key}`}>
        {kpi.display}
      </p>
      {isRate ? <RateBar kpi={kpi} /> : <GrowthMark kpi={kpi} />}
      <p className="cp-kpi__comparison" data-testid={`kpi-comparison-${kpi.key}`}>
        {comparison}
      </p>
    </article>
  );
}

/** The three KPI cards of the week: Onboarding, Reativação, Crescimento. */
export default function MetricsOverview({ kpis, loading = false }) {
  if (loading) {
    return (
      <div className="cp-kpis cp-kpis--loading" aria-busy="true">
        <p className="cp-muted">Carregando métricas…</p>
      </div>
    );
  }
  if (!kpis || kpis.length === 0) {
    return <p className="cp-empty">Sem métricas para esta semana.</p>;
  }
  return (
    <div className="cp-kpis">
      {kpis.map((kpi) => (
        <KpiCard key={kpi.key} kpi={kpi} />
      ))}
    </div>
  );
}
