import { DIMENSION_LABELS, formatEvidence, formatNumber, formatPercent } from './format.js';

/** A cut's rate as the insight measures it: shares (0-1) in percent, NPS and days as numbers. */
function rate(value, points) {
  if (typeof value !== 'number') return formatEvidence(value);
  return !points && value >= 0 && value <= 1 ? formatPercent(value * 100) : formatNumber(value, points ? 0 : 2);
}

/**
 * The cuts (regions, segments) of an insight found at a wider scope, from its
 * `evidence.drilldown`: each cut's rate and sample, and a "difere" badge on the cuts whose
 * change differs significantly from the rest of the scope. `points`: rates in points (NPS).
 */
export default function Drilldown({ cuts, points = false }) {
  return (
    <table className="cp-table cp-drilldown">
      <thead>
        <tr>
          <th>Dimensão</th>
          <th>Recorte</th>
          <th>Taxa</th>
          <th>Casos</th>
          <th>
            <span className="cp-visually-hidden">Difere do restante?</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {cuts.map((cut) => (
          <tr
            key={`${cut.dimension}:${cut.value}`}
            className={cut.differs ? 'cp-drilldown--differs' : undefined}
            data-dimension={cut.dimension}
            data-value={cut.value}
          >
            <td>{DIMENSION_LABELS[cut.dimension] ?? cut.dimension}</td>
            <td>{cut.value}</td>
            <td>{rate(cut.rate_b, points)}</td>
            <td>{formatNumber(cut.n_b, 0)}</td>
            <td>
              {cut.differs && (
                <span
                  className="cp-badge cp-badge--differs"
                  title={
                    cut.own_insight
                      ? 'Difere do restante do escopo; listado também como insight próprio'
                      : 'Difere do restante do escopo'
                  }
                >
                  difere
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The drill-down of an insight's evidence, or null when it has none. */
export function drilldownOf(insight) {
  const cuts = insight?.evidence?.drilldown;
  return Array.isArray(cuts) ? cuts : null;
}

/** Whether the insight's rates are NPS points rather than shares. */
export function inPoints(insight) {
  return insight?.evidence?.metric === 'nps';
}
