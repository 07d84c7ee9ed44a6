import { useEffect, useState } from 'react';

import ErrorNotice from '../components/performance/ErrorNotice.jsx';
import InsightCard from '../components/performance/InsightCard.jsx';
import InsightDetail from '../components/performance/InsightDetail.jsx';
import InsightList from '../components/performance/InsightList.jsx';
import MetricsOverview from '../components/performance/MetricsOverview.jsx';
import ProposalCard from '../components/performance/ProposalCard.jsx';
import TrendChart from '../components/performance/TrendChart.jsx';
import useAsync from '../components/performance/useAsync.js';
import '../components/performance/performance.css';

export const TOP_INSIGHTS = 3;

const ROLE_LABELS = { viewer: 'leitura', analyst: 'analista', approver: 'aprovador' };

function Section({ id, title, action, children }) {
  return (
    <section className="cp-section" aria-labelledby={id}>
      <header className="cp-section__head">
        <h2 id={id}>{title}</h2>
        {action}
      </header>
      {children}
    </section>
  );
}

function Insights({ service, total, onOpen, onAll }) {
  const top = useAsync(
    () => service.getInsights({ status: 'NEW', sort: '-severity,-id', page_size: TOP_INSIGHTS }),
    [service, total],
  );
  return (
    <Section
      id="cp-insights"
      title={`Insights (${total} ${total === 1 ? 'novo' : 'novos'})`}
      action={
        <button type="button" className="cp-button" onClick={onAll}>
          Ver todos
        </button>
      }
    >
      {top.status === 'loading' && <p className="cp-muted">Carregando insights…</p>}
      {top.status === 'error' && <ErrorNotice error={top.error} what="os insights" onRetry={top.reload} />}
      {top.status === 'ready' &&
        (top.data.items.length === 0 ? (
          <p className="cp-empty">Nenhum insight novo.</p>
        ) : (
          <ul className="cp-insights" data-testid="top-insights">
            {top.data.items.map((insight) => (
              <InsightCard key={insight.id} insight={insight} onOpen={onOpen} />
            ))}
          </ul>
        ))}
    </Section>
  );
}

function Proposals({ pending, decided, canApprove, onApprove, onReject, onReload }) {
  const decidedIds = new Set(decided.map((p) => p.id));
  const items = pending.items.filter((p) => !decidedIds.has(p.id));
  const total = Math.max(0, pending.total - pending.items.filter((p) => decidedIds.has(p.id)).length);
  return (
    <Section id="cp-proposals" title={`Propostas Pendentes (${total})`}>
      {items.length === 0 ? (
        <p className="cp-empty">Nenhuma proposta pendente.</p>
      ) : (
        <ul className="cp-proposals" data-testid="pending-proposals">
          {items.map((proposal) => (
            <ProposalCard
              key={proposal.id}
              proposal={proposal}
              canApprove={canApprove}
              onApprove={onApprove}
              onReject={onReject}
              onReload={onReload}
            />
          ))}
        </ul>
      )}
      {total > items.length && items.length > 0 && (
        <p className="cp-muted">Mostrando as {items.length} mais recentes de {total}.</p>
      )}
      {decided.length > 0 && (
        <>
          <h3>Decididas agora</h3>
          <ul className="cp-proposals" data-testid="decided-proposals">
            {decided.map((proposal) => (
              <ProposalCard key={proposal.id} proposal={proposal} />
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}

/**
 * The Performance page of the Seller Cockpit: this week's KPI cards, new insights, the
 * 30-day trends and the pending proposals, from the dashboard of `service`.
 *
 * `service` is any object with the calls of performance.service.js (the Cockpit passes
 * one that goes through its backend; the standalone page one that calls chanperf).
 * `asOf` ("YYYY-MM-DD") picks the day the dashboard is computed for (default: yesterday).
 * `onUnauthorized(error)` is told when the API refuses the key (401).
 */
export default function PerformancePage({ service, asOf, onUnauthorized }) {
  const [view, setView] = useState({ name: 'overview' });
  const [decided, setDecided] = useState([]);
  const dashboard = useAsync(() => service.getDashboardData(asOf ? { as_of: asOf } : {}), [service, asOf]);

  useEffect(() => {
    if (dashboard.error?.status === 401) onUnauthorized?.(dashboard.error);
  }, [dashboard.error, onUnauthorized]);

  const data = dashboard.data;
  const viewer = data?.viewer;
  const refresh = () => dashboard.reload({ quiet: true });

  async function decide(call) {
    try {
      const answer = await call();
      setDecided((list) => [answer, ...list.filter((p) => p.id !== answer.id)]);
      refresh();
      return answer;
    } catch (error) {
      if (error?.status === 401) onUnauthorized?.(error);
      throw error;
    }
  }

  const openInsight = (insight) => setView({ name: 'insight', id: insight.id, from: view.name });

  let body;
  if (dashboard.status === 'loading' && !data) {
    body = (
      <p className="cp-loading" aria-busy="true">
        Carregando a performance do canal…
      </p>
    );
  } else if (dashboard.status === 'error' && !data) {
    body = <ErrorNotice error={dashboard.error} what="a performance do canal" onRetry={dashboard.reload} />;
  } else if (view.name === 'all') {
    body = <InsightList service={service} onOpen={openInsight} onBack={() => setView({ name: 'overview' })} />;
  } else if (view.name === 'insight') {
    body = (
      <InsightDetail
        service={service}
        insightId={view.id}
        canAct={Boolean(viewer?.can_act)}
        onBack={() => setView({ name: view.from === 'all' ? 'all' : 'overview' })}
        onChanged={refresh}
      />
    );
  } else {
    body = (
      <>
        <section className="cp-section" aria-label="Indicadores da semana">
          <MetricsOverview kpis={data.kpis} />
        </section>
        <Insights
          service={service}
          total={data.new_insights.total}
          onOpen={openInsight}
          onAll={() => setView({ name: 'all' })}
        />
        <Section id="cp-trends" title="Tendências">
          <TrendChart trends={data.trends} />
        </Section>
        <Proposals
          pending={data.pending_proposals}
          decided={decided}
          canApprove={Boolean(viewer?.can_approve)}
          onApprove={(id) => decide(() => service.approveProposal(id))}
          onReject={(id, reason) => decide(() => service.rejectProposal(id, reason))}
          onReload={refresh}
        />
      </>
    );
  }

  return (
    <main className="cp-page" data-testid="performance-page">
      <header className="cp-page__head">
        <h1>{data?.title ?? 'Performance do Canal'} — Esta Semana</h1>
        {data && (
          <p className="cp-page__week" data-testid="week-label">
            {data.week_label}
            {viewer && (
              <span className="cp-page__viewer">
                {' '}
                · {viewer.name} ({ROLE_LABELS[viewer.role] ?? viewer.role})
              </span>
            )}
          </p>
        )}
        {dashboard.status === 'error' && data && (
          <ErrorNotice error={dashboard.error} what="a atualização" onRetry={dashboard.reload} />
        )}
      </header>
      {body}
    </main>
  );
}
