import { useState } from 'react';

import Drilldown, { drilldownOf, inPoints } from './Drilldown.jsx';
import ErrorNotice, { BackButton } from './ErrorNotice.jsx';
import { SeverityBadge } from './InsightCard.jsx';
import {
  CATEGORY_LABELS,
  INSIGHT_LABEL_LABELS,
  INSIGHT_STATUS_LABELS,
  INSIGHT_TYPE_LABELS,
  PROPOSAL_STATUS_LABELS,
  formatChange,
  formatDate,
  formatEvidence,
  formatMoney,
  formatNumber,
} from './format.js';
import useAsync from './useAsync.js';

// The insight workflow: what each status allows, and what an action needs.
export const ACTIONS_BY_STATUS = {
  NEW: ['review', 'dismiss'],
  REVIEWED: ['start', 'dismiss'],
  IN_PROGRESS: ['implement', 'dismiss'],
  DISMISSED: ['reopen'],
  IMPLEMENTED: [],
};
export const ACTION_LABELS = {
  review: 'Marcar como revisado',
  start: 'Iniciar',
  implement: 'Marcar como implementado',
  dismiss: 'Descartar',
  reopen: 'Reabrir',
};
const ACTION_NEEDS = {
  dismiss: { field: 'reason', label: 'Motivo do descarte' },
  implement: { field: 'implementation_notes', label: 'Notas da implementação' },
};

function Evidence({ evidence }) {
  const entries = Object.entries(evidence ?? {}).filter(([key]) => key !== 'drilldown');
  if (entries.length === 0) return <p className="cp-muted">Sem evidência registrada.</p>;
  return (
    <dl className="cp-evidence">
      {entries.map(([key, value]) => (
        <div key={key} className="cp-evidence__row">
          <dt>{key}</dt>
          <dd>{formatEvidence(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

function ActionForm({ action, onSubmit, onCancel, busy }) {
  const need = ACTION_NEEDS[action];
  const [text, setText] = useState('');
  const [missing, setMissing] = useState(false);
  return (
    <form
      className="cp-reject"
      onSubmit={(event) => {
        event.preventDefault();
        if (!text.trim()) {
          setMissing(true);
          return;
        }
        onSubmit({ action, [need.field]: text.trim() });
      }}
    >
      <label>
        {need.label}
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} maxLength={2000} />
      </label>
      {missing && <p className="cp-alert">Preencha: {need.label.toLowerCase()}.</p>}
      <div className="cp-actions">
        <button type="submit" className="cp-button" disabled={busy}>
          Confirmar: {ACTION_LABELS[action].toLowerCase()}
        </button>
        <button type="button" className="cp-button" disabled={busy} onClick={onCancel}>
          Cancelar
        </button>
      </div>
    </form>
  );
}

function Actions({ insight, onAct }) {
  const [form, setForm] = useState(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const actions = ACTIONS_BY_STATUS[insight.status] ?? [];

  async function act(body) {
    setBusy(true);
    setProblem(null);
    try {
      await onAct(body);
      setForm(null);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  if (actions.length === 0) return null;
  return (
    <div className="cp-insight-actions">
      {form ? (
        <ActionForm action={form} busy={busy} onSubmit={act} onCancel={() => setForm(null)} />
      ) : (
        <div className="cp-actions">
          {actions.map((action) => (
            <button
              key={action}
              type="button"
              className="cp-button"
              disabled={busy}
              onClick={() => (ACTION_NEEDS[action] ? setForm(action) : act({ action }))}
            >
              {ACTION_LABELS[action]}
            </button>
          ))}
        </div>
      )}
      {problem && (
        <p className={`cp-alert${problem.status === 409 ? ' cp-alert--conflict' : ''}`} role="alert">
          {problem.status === 409
            ? `Conflito: o insight mudou de status antes desta ação (${problem.message}). Os dados abaixo foram atualizados.`
            : `Erro${problem.code ? ` ${problem.code}` : ''}: ${problem.message}`}
        </p>
      )}
    </div>
  );
}

/**
 * One insight in full: observation, evidence (and its drill-down when present), impact,
 * the proposals made from it, and the workflow actions when the key may act.
 */
export default function InsightDetail({ service, insightId, canAct = false, onBack, onChanged }) {
  const detail = useAsync(() => service.getInsight(insightId), [service, insightId]);

  async function onAct(body) {
    try {
      const updated = await service.actOnInsight(insightId, body);
      detail.setData((previous) => ({ ...previous, ...updated, proposals: updated.proposals ?? previous?.proposals }));
      onChanged?.(updated);
    } catch (error) {
      if (error?.status === 409) detail.reload({ quiet: true });
      throw error;
    }
  }

  return (
    <section className="cp-section cp-detail" aria-labelledby="cp-detail-title">
      <BackButton onBack={onBack} />
      {detail.status === 'loading' && !detail.data && <p className="cp-muted">Carregando insight…</p>}
      {detail.status === 'error' && <ErrorNotice error={detail.error} what="o insight" onRetry={detail.reload} />}
      {detail.data && <InsightBody insight={detail.data} canAct={canAct} onAct={onAct} />}
    </section>
  );
}

function InsightBody({ insight, canAct, onAct }) {
  const drilldown = drilldownOf(insight);
  const where = [insight.affected_region, insight.affected_segment, insight.affected_policy].filter(Boolean);
  const impact = insight.impact_estimate;
  return (
    <>
      <h2 id="cp-detail-title" className="cp-detail__title">
        <SeverityBadge severity={insight.severity} /> {insight.title}
      </h2>
      <p className="cp-detail__meta">
        <span className={`cp-status cp-status--${insight.status.toLowerCase()}`} data-testid="insight-status">
          {INSIGHT_STATUS_LABELS[insight.status] ?? insight.status}
        </span>{' '}
        {INSIGHT_TYPE_LABELS[insight.type] ?? insight.type} · {CATEGORY_LABELS[insight.category] ?? insight.category}
        {where.length > 0 && ` · ${where.join(' · ')}`} · {formatDate(insight.analysis_period_start)} a{' '}
        {formatDate(insight.analysis_period_end)}
        {insight.occurrences > 1 && ` · visto ${insight.occurrences} vezes`}
        {insight.reviewed_by && ` · revisado por ${insight.reviewed_by}`}
        {insight.label && ` · classificação: ${INSIGHT_LABEL_LABELS[insight.label] ?? insight.label}`}
      </p>
      <p>{insight.observation}</p>
      <p>
        <strong>Sugestão:</strong> {insight.recommendation}
      </p>
      {impact?.monthly_amount != null && (
        <p>
          <strong>Impacto estimado:</strong> {formatMoney(impact.monthly_amount)}/mês
          {impact.accounts_affected != null && `, ${formatNumber(impact.accounts_affected, 0)} contas`}
        </p>
      )}
      {insight.implementation_notes && (
        <p>
          <strong>Implementação:</strong> {insight.implementation_notes}
        </p>
      )}
      {canAct && <Actions insight={insight} onAct={onAct} />}

      <h3>Evidência</h3>
      <Evidence evidence={insight.evidence} />
      {drilldown && (
        <>
          <h3>Detalhamento por recorte</h3>
          {drilldown.length ? <Drilldown cuts={drilldown} points={inPoints(insight)} /> : <p className="cp-muted">Nenhum recorte.</p>}
        </>
      )}

      <h3>Propostas</h3>
      {insight.proposals?.length ? (
        <ul className="cp-list">
          {insight.proposals.map((p) => (
            <li key={p.id} data-proposal-id={p.id}>
              {p.title}
              {p.affected_policy && `: ${formatChange(p)}`} — {PROPOSAL_STATUS_LABELS[p.status] ?? p.status}
              {p.expected_impact && ` · impacto esperado: ${p.expected_impact}`}
            </li>
          ))}
        </ul>
      ) : (
        <p className="cp-muted">Nenhuma proposta gerada a partir deste insight.</p>
      )}
    </>
  );
}
