import { useState } from 'react';

import {
  PROPOSAL_STATUS_LABELS,
  VERDICT_LABELS,
  formatChange,
  formatDateTime,
  formatDuration,
} from './format.js';

/** The experiment's verdict, from a pending item (`experiment_verdict`) or a proposal's plan. */
export function verdictOf(proposal) {
  return proposal.experiment_verdict ?? proposal.experiment_plan?.verdict ?? null;
}

function designOf(proposal) {
  const design = proposal.experiment_plan?.design;
  if (!design) return null;
  if (typeof design === 'string') return design;
  return design.description ?? design.label ?? design.kind ?? null;
}

/** What an API error means to the person who clicked. */
export function describeError(error) {
  if (error?.status === 409) {
    return {
      conflict: true,
      text: `Conflito: a proposta já não está pendente — outra pessoa a decidiu antes (${error.message}).`,
    };
  }
  if (error?.status === 403) return { text: `Sem permissão: ${error.message}` };
  if (error?.status === 422) return { text: `Dados recusados pela API: ${error.message}` };
  return { text: `Erro${error?.code ? ` ${error.code}` : ''}: ${error?.message ?? error}` };
}

function Decision({ proposal }) {
  if (proposal.status === 'APPROVED') {
    return (
      <p className="cp-proposal__decision cp-proposal__decision--approved" role="status">
        Aprovada por {proposal.approved_by} em {formatDateTime(proposal.approved_at)}
      </p>
    );
  }
  if (proposal.status === 'REJECTED') {
    return (
      <p className="cp-proposal__decision cp-proposal__decision--rejected" role="status">
        Rejeitada por {proposal.rejected_by} em {formatDateTime(proposal.rejected_at)}: “{proposal.rejection_reason}”
      </p>
    );
  }
  return (
    <p className="cp-proposal__decision" role="status">
      {PROPOSAL_STATUS_LABELS[proposal.status] ?? proposal.status}
    </p>
  );
}

/**
 * A policy proposal: the change ("10% → 5%"), the expected impact, the experiment's
 * verdict and duration, and Aprovar / Rejeitar for a key that may approve.
 *
 * `onApprove(id)` and `onReject(id, reason)` return the API's answer (the proposal after
 * the decision); the card shows it. A failure stays on the card, a 409 as the conflict it is.
 */
export default function ProposalCard({ proposal, canApprove = false, onApprove, onReject, onReload }) {
  const [busy, setBusy] = useState(false);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState(null);
  const pending = (proposal.status ?? 'PENDING_REVIEW') === 'PENDING_REVIEW';
  const verdict = verdictOf(proposal);
  const duration = formatDuration(proposal.experiment_duration_days);
  const design = designOf(proposal);

  async function decide(action) {
    setBusy(true);
    setProblem(null);
    try {
      await action();
      setRejecting(false);
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(false);
    }
  }

  function submitRejection(event) {
    event.preventDefault();
    if (!reason.trim()) {
      setProblem({ text: 'Informe o motivo da rejeição.' });
      return;
    }
    decide(() => onReject(proposal.id, reason.trim()));
  }

  return (
    <li className={`cp-proposal${pending ? '' : ' cp-proposal--decided'}`} data-proposal-id={proposal.id}>
      <p className="cp-proposal__title">
        <span>{proposal.title}</span>
        {proposal.affected_policy && (
          <>
            {': '}
            <strong className="cp-proposal__change" data-testid="proposal-change">
              {formatChange(proposal)}
            </strong>
          </>
        )}
      </p>
      {proposal.affected_policy && <p className="cp-muted cp-proposal__policy">{proposal.affected_policy}</p>}
      <p className="cp-proposal__impact">
        <strong>Impacto esperado:</strong> {proposal.expected_impact ?? 'não estimado'}
      </p>
      {(verdict || duration) && (
        <p className="cp-proposal__experiment" data-testid="proposal-experiment">
          <strong>Experimento:</strong>
          {verdict && (
            <span className={`cp-verdict cp-verdict--${verdict.toLowerCase()}`} title={verdict}>
              {' '}
              {VERDICT_LABELS[verdict] ?? verdict}
            </span>
          )}
          {verdict && duration && ','}
          {duration && <span> {duration}</span>}
          {design && <span className="cp-muted"> — {design}</span>}
        </p>
      )}
      {!pending && <Decision proposal={proposal} />}
      {pending && canApprove && !rejecting && (
        <div className="cp-actions">
          <button type="button" className="cp-button cp-button--approve" disabled={busy} onClick={() => decide(() => onApprove(proposal.id))}>
            ✓ Aprovar
          </button>
          <button
            type="button"
            className="cp-button cp-button--reject"
            disabled={busy}
            onClick={() => {
              setProblem(null);
              setRejecting(true);
            }}
          >
            ✗ Rejeitar
          </button>
        </div>
      )}
      {pending && canApprove && rejecting && (
        <form className="cp-reject" onSubmit={submitRejection}>
          <label>
            Motivo da rejeição
            <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} maxLength={2000} />
          </label>
          <div className="cp-actions">
            <button type="submit" className="cp-button cp-button--reject" disabled={busy}>
              Confirmar rejeição
            </button>
            <button type="button" className="cp-button" disabled={busy} onClick={() => setRejecting(false)}>
              Cancelar
            </button>
          </div>
        </form>
      )}
      {busy && <p className="cp-muted">Enviando…</p>}
      {problem && (
        <div className={`cp-alert${problem.conflict ? ' cp-alert--conflict' : ''}`} role="alert">
          {problem.text}
          {problem.conflict && onReload && (
            <button type="button" className="cp-button cp-button--small" onClick={onReload}>
              Atualizar propostas
            </button>
          )}
        </div>
      )}
    </li>
  );
}
