import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  Tooltip,
  XAxis,
  YAxis,
  usePlotArea,
  useXAxisScale,
} from 'recharts';

import { POINT_STATE_LABELS, formatDate, formatPercent } from './format.js';

export const SERIES_COLORS = {
  onboarding_rate: '#2563eb',
  reactivation_rate: '#9333ea',
};
const FALLBACK_COLORS = ['#0f766e', '#b45309', '#be123c'];

// Geometry: the plot, the x axis under it, and below that one strip row per series
// where every day is marked with its state. A day without a value is a gap in its line
// and a mark in its row, never a point at zero.
const MARGIN = { top: 12, right: 24, bottom: 56, left: 12 };
const X_AXIS_HEIGHT = 28;
const Y_AXIS_WIDTH = 60; // room for the strip's row labels too
const STRIP_FIRST_ROW = 16; // below the x axis
const STRIP_ROW_GAP = 18;

export function colorOf(key, index) {
  return SERIES_COLORS[key] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length];
}

/** One row per day: {date, [series key]: value or null, states: {key: state}}. */
export function chartRows(series) {
  const byDate = new Map();
  for (const { key, points } of series) {
    for (const point of points) {
      const row = byDate.get(point.date) ?? { date: point.date, states: {} };
      row[key] = point.state === 'ok' ? point.value : null;
      row.states[key] = point.state;
      byDate.set(point.date, row);
    }
  }
  return [...byDate.values()].sort((a, b) => a.date.localeCompare(b.date));
}

function StateMark({ state, x, y, color, seriesKey, date, value }) {
  const common = {
    'data-role': 'day',
    'data-series': seriesKey,
    'data-date': date,
    'data-state': state,
    'data-value': value ?? '',
  };
  const title = <title>{`${formatDate(date)}: ${state === 'ok' ? formatPercent(value) : POINT_STATE_LABELS[state]}`}</title>;
  if (state === 'ok') {
    return (
      <circle {...common} cx={x} cy={y} r={3.5} fill={color}>
        {title}
      </circle>
    );
  }
  if (state === 'censored') {
    return (
      <rect {...common} x={x - 4} y={y - 4} width={8} height={8} fill="url(#cp-hatch)" stroke="#6b7280">
        {title}
      </rect>
    );
  }
  if (state === 'empty') {
    return (
      <circle {...common} cx={x} cy={y} r={3.5} fill="#fff" stroke="#6b7280" strokeWidth={1.5}>
        {title}
      </circle>
    );
  }
  return (
    <path {...common} d={`M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}`} stroke="#dc2626" strokeWidth={2}>
      {title}
    </path>
  );
}

/** A measured day of a series: a point on its line (days without a value have none). */
function makeDot(key, color) {
  return function Dot({ cx, cy, payload }) {
    if (typeof cx !== 'number' || typeof cy !== 'number' || payload?.states[key] !== 'ok') return null;
    return (
      <circle
        key={`${key}-${payload.date}`}
        data-role="point"
        data-series={key}
        data-date={payload.date}
        data-value={payload[key]}
        cx={cx}
        cy={cy}
        r={3}
        fill={color}
      />
    );
  };
}

/**
 * Under the x axis, one row per series with every day marked by its state: measured,
 * censored, empty or not collected. Drawn from the chart's own x scale, so each mark sits
 * under its day whether or not the line has a value there.
 */
function DayStrip({ rows, series }) {
  const x = useXAxisScale();
  const plot = usePlotArea();
  if (!x || !plot) return null;
  const top = plot.y + plot.height + X_AXIS_HEIGHT + STRIP_FIRST_ROW;
  return (
    <g className="cp-trend__strip">
      {series.map((s, index) => {
        const y = top + index * STRIP_ROW_GAP;
        const color = colorOf(s.key, index);
        return (
          <g key={s.key} data-strip={s.key}>
            <text x={plot.x - 8} y={y + 4} textAnchor="end" fontSize={10} fill="#374151">
              {shortLabel(s.label)}
            </text>
            {rows.map((row) => {
              const at = x(row.date);
              if (!Number.isFinite(at)) return null; // the scale is not ready on the first pass
              return (
                <StateMark
                  key={row.date}
                  state={row.states[s.key] ?? 'missing'}
                  x={at}
                  y={y}
                  color={color}
                  seriesKey={s.key}
                  date={row.date}
                  value={row[s.key]}
                />
              );
            })}
          </g>
        );
      })}
    </g>
  );
}

/** The tooltip of a day: each series' value, or what the day is instead. */
export function TrendTooltip({ active, label, rows, series }) {
  if (!active || !label) return null;
  const row = rows.find((r) => r.date === label);
  if (!row) return null;
  return (
    <div className="cp-tooltip" role="status">
      <p className="cp-tooltip__date">{formatDate(label)}</p>
      <ul>
        {series.map((s, index) => {
          const state = row.states[s.key] ?? 'missing';
          return (
            <li key={s.key} style={{ color: colorOf(s.key, index) }}>
              {s.label}: {state === 'ok' ? formatPercent(row[s.key]) : POINT_STATE_LABELS[state]}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function shortLabel(label) {
  // "Taxa de sucesso da reativação" → "Reativação" in the strip; the legend has the full one.
  const last = label.split(' ').at(-1);
  return last.charAt(0).toUpperCase() + last.slice(1);
}

/**
 * "Tendências": the daily rates of the trend series (activation vs reactivation, last 30
 * days) as lines, days on the x axis, with a tooltip per day. Censored, empty and missing
 * days are gaps in the line and marked in the strip under the axis.
 *
 * `width` fixes the size (tests); without it the chart follows its container.
 */
export default function TrendChart({ trends, width, height = 340 }) {
  if (!trends || !trends.series || trends.series.length === 0) {
    return <p className="cp-empty">Sem dados de tendência para o período.</p>;
  }
  const { series } = trends;
  const rows = chartRows(series);
  const measured = rows.some((row) => series.some((s) => row.states[s.key] === 'ok'));
  return (
    <figure className="cp-trend" data-testid="trend-chart">
      <figcaption className="cp-trend__caption">
        {trends.label} — {formatDate(trends.start)} a {formatDate(trends.end)}
      </figcaption>
      {!measured && (
        <p className="cp-empty" role="note">
          Nenhum dia medido no período: o estado de cada dia está marcado abaixo do eixo.
        </p>
      )}
      <LineChart
        width={width ?? '100%'}
        height={height}
        responsive={width === undefined}
        data={rows}
        margin={MARGIN}
        accessibilityLayer
      >
        <defs>
          <pattern id="cp-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="4" height="4" fill="#e5e7eb" />
            <line x1="0" y1="0" x2="0" y2="4" stroke="#6b7280" strokeWidth="1.5" />
          </pattern>
        </defs>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis
          dataKey="date"
          height={X_AXIS_HEIGHT}
          tickFormatter={(date) => formatDate(date, { short: true })}
          interval="preserveStartEnd"
          minTickGap={16}
          padding={{ left: 8, right: 8 }}
        />
        <YAxis
          width={Y_AXIS_WIDTH}
          domain={[0, 100]}
          ticks={[0, 25, 50, 75, 100]}
          tickFormatter={(v) => `${v}%`}
        />
        <Tooltip content={(props) => <TrendTooltip {...props} rows={rows} series={series} />} />
        <Legend verticalAlign="top" height={28} />
        {series.map((s, index) => (
          <Line
            key={s.key}
            type="linear"
            dataKey={s.key}
            name={s.label}
            stroke={colorOf(s.key, index)}
            strokeWidth={2}
            connectNulls={false}
            isAnimationActive={false}
            dot={makeDot(s.key, colorOf(s.key, index))}
            activeDot={{ r: 5 }}
          />
        ))}
        <DayStrip rows={rows} series={series} />
      </LineChart>
      <p className="cp-trend__legend">
        Abaixo do eixo, cada dia de cada série: <span className="cp-mark cp-mark--ok">●</span> medido ·{' '}
        <span className="cp-mark cp-mark--censored">▨</span> {POINT_STATE_LABELS.censored} ·{' '}
        <span className="cp-mark cp-mark--empty">○</span> {POINT_STATE_LABELS.empty} ·{' '}
        <span className="cp-mark cp-mark--missing">×</span> {POINT_STATE_LABELS.missing}. Dias sem valor ficam
        como lacuna na linha, nunca como zero.
      </p>
    </figure>
  );
}
