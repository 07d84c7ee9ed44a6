import Drilldown, { drilldownOf, inPoints } from './Drilldown.jsx';
import { INSIGHT_STATUS_LABELS, SEVERITY_LABELS } from './format.js';

/** The severity dot, coloured: CRITICAL red, HIGH orange, MEDIUM yellow, LOW blue. */
export function SeverityBadge({ severity, suffix = '' }) {
  return (
    <span
      className={`cp-severity cp-severity--${severity.toLowerCase()}`}
      title={`Severidade ${SEVERITY_LABELS[severity] ?? severity}`}
    >
      <span className="cp-severity__dot" aria-hidden="true" />
      {severity}
      {suffix}
    </span>
  );
}

/** "10 recortes, 1 difere" */
function cutsSummary(cuts) {
  const differing = cuts.filter((cut) => cut.differs).length;
  const count = `${cuts.length} ${cuts.length === 1 ? 'recorte' : 'recortes'}`;
  if (differing === 0) return `${count}, nenhum difere`;
  return `${count}, ${differing} ${differing === 1 ? 'difere' : 'diferem'}`;
}

/**
 * One insight as the page lists it: severity, title and "Sugestão" (its recommendation),
 * and, for an insight found at a wide scope, its cuts (regions, segments) in a small table
 * under it. `onOpen(insight)` opens its detail; `showStatus` adds the workflow status.
 */
export default function InsightCard({ insight, onOpen, showStatus = false }) {
  const open = onOpen ? () => onOpen(insight) : undefined;
  const cuts = drilldownOf(insight);
  return (
    <li
      className={`cp-insight cp-insight--${insight.severity.toLowerCase()}`}
      data-insight-id={insight.id}
      data-severity={insight.severity}
    >
      <div className="cp-insight__head">
        <SeverityBadge severity={insight.severity} suffix=":" />
        {open ? (
          <button type="button" className="cp-link cp-insight__title" onClick={open}>
            {insight.title}
          </button>
        ) : (
          <span className="cp-insight__title">{insight.title}</span>
        )}
        {showStatus && (
          <span className={`cp-status cp-status--${insight.status.toLowerCase()}`}>
            {INSIGHT_STATUS_LABELS[insight.status] ?? insight.status}
          </span>
        )}
      </div>
      {insight.recommendation ? (
        <p className="cp-insight__suggestion">
          <strong>Sugestão:</strong> {insight.recommendation}
        </p>
      ) : (
        <p className="cp-insight__suggestion cp-muted">Sem sugestão registrada.</p>
      )}
      {cuts?.length > 0 && (
        <details className="cp-insight__drilldown">
          <summary>Por recorte: {cutsSummary(cuts)}</summary>
          <Drilldown cuts={cuts} points={inPoints(insight)} />
        </details>
      )}
    </li>
  );
}
