import { useState } from 'react';

import ErrorNotice, { BackButton } from './ErrorNotice.jsx';
import InsightCard from './InsightCard.jsx';
import {
  CATEGORIES,
  CATEGORY_LABELS,
  INSIGHT_STATUSES,
  INSIGHT_STATUS_LABELS,
  INSIGHT_TYPES,
  INSIGHT_TYPE_LABELS,
  SEVERITIES,
  SEVERITY_LABELS,
} from './format.js';
import useAsync from './useAsync.js';

export const PAGE_SIZE = 10;

const SELECTS = [
  ['severity', 'Severidade', SEVERITIES, SEVERITY_LABELS],
  ['status', 'Status', INSIGHT_STATUSES, INSIGHT_STATUS_LABELS],
  ['category', 'Categoria', CATEGORIES, CATEGORY_LABELS],
  ['type', 'Tipo', INSIGHT_TYPES, INSIGHT_TYPE_LABELS],
];
const TEXTS = [
  ['region', 'Região'],
  ['segment', 'Segmento'],
];

/** Every insight, filtered (severity, status, category, type, region, segment) and paginated. */
export default function InsightList({ service, onOpen, onBack, initialFilters = {} }) {
  const [filters, setFilters] = useState(initialFilters);
  const [page, setPage] = useState(1);
  const list = useAsync(
    () => service.getInsights({ ...filters, sort: '-severity,-id', page, page_size: PAGE_SIZE }),
    [service, JSON.stringify(filters), page],
  );

  function set(name, value) {
    setFilters((current) => {
      const next = { ...current };
      if (value) next[name] = value;
      else delete next[name];
      return next;
    });
    setPage(1);
  }

  const pagination = list.data?.pagination;
  const total = pagination?.total ?? list.data?.items.length ?? 0;
  const pages = pagination?.total_pages ?? 1;

  return (
    <section className="cp-section" aria-labelledby="cp-all-insights">
      <BackButton onBack={onBack} />
      <h2 id="cp-all-insights">Todos os insights</h2>
      <form className="cp-filters" onSubmit={(e) => e.preventDefault()} aria-label="Filtros">
        {SELECTS.map(([name, label, values, labels]) => (
          <label key={name}>
            {label}
            <select value={filters[name] ?? ''} onChange={(e) => set(name, e.target.value)} name={name}>
              <option value="">Todos</option>
              {values.map((value) => (
                <option key={value} value={value}>
                  {labels[value] ?? value}
                </option>
              ))}
            </select>
          </label>
        ))}
        {TEXTS.map(([name, label]) => (
          <label key={name}>
            {label}
            <input
              name={name}
              defaultValue={filters[name] ?? ''}
              placeholder="Todas"
              onBlur={(e) => set(name, e.target.value.trim().toUpperCase())}
              onKeyDown={(e) => e.key === 'Enter' && set(name, e.currentTarget.value.trim().toUpperCase())}
            />
          </label>
        ))}
      </form>
      {list.status === 'loading' && <p className="cp-muted">Carregando insights…</p>}
      {list.status === 'error' && <ErrorNotice error={list.error} what="os insights" onRetry={list.reload} />}
      {list.status === 'ready' && list.data.items.length === 0 && (
        <p className="cp-empty">Nenhum insight com estes filtros.</p>
      )}
      {list.status === 'ready' && list.data.items.length > 0 && (
        <>
          <p className="cp-muted" data-testid="insight-total">
            {total} {total === 1 ? 'insight' : 'insights'}
          </p>
          <ul className="cp-insights" data-testid="all-insights">
            {list.data.items.map((insight) => (
              <InsightCard key={insight.id} insight={insight} onOpen={onOpen} showStatus />
            ))}
          </ul>
          {pages > 1 && (
            <nav className="cp-pager" aria-label="Páginas">
              <button type="button" className="cp-button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Anterior
              </button>
              <span>
                Página {page} de {pages}
              </span>
              <button type="button" className="cp-button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
                Próxima
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}
