// pt-BR labels and number formats of the Performance page.

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export const SEVERITY_LABELS = {
  CRITICAL: 'Crítica',
  HIGH: 'Alta',
  MEDIUM: 'Média',
  LOW: 'Baixa',
};

export const INSIGHT_STATUSES = ['NEW', 'REVIEWED', 'IN_PROGRESS', 'IMPLEMENTED', 'DISMISSED'];

export const INSIGHT_STATUS_LABELS = {
  NEW: 'Novo',
  REVIEWED: 'Revisado',
  IN_PROGRESS: 'Em andamento',
  IMPLEMENTED: 'Implementado',
  DISMISSED: 'Descartado',
};

export const INSIGHT_TYPES = [
  'POLICY_GAP',
  'POLICY_TOO_RESTRICTIVE',
  'POLICY_TOO_LAX',
  'EXECUTION_DRIFT',
  'CHANNEL_MISALIGNMENT',
];

export const INSIGHT_TYPE_LABELS = {
  POLICY_GAP: 'Lacuna de política',
  POLICY_TOO_RESTRICTIVE: 'Política restritiva demais',
  POLICY_TOO_LAX: 'Política permissiva demais',
  EXECUTION_DRIFT: 'Desvio de execução',
  CHANNEL_MISALIGNMENT: 'Desalinhamento do canal',
};

export const CATEGORIES = ['onboarding', 'reactivation', 'pricing', 'states', 'policy', 'revenue', 'quality'];

export const CATEGORY_LABELS = {
  onboarding: 'Onboarding',
  reactivation: 'Reativação',
  pricing: 'Preço',
  states: 'Estados',
  policy: 'Política',
  revenue: 'Receita',
  quality: 'Qualidade',
};

export const DIMENSION_LABELS = {
  region: 'Região',
  segment: 'Segmento',
};

export const INSIGHT_LABEL_LABELS = {
  TRUE_POSITIVE: 'Verdadeiro positivo',
  FALSE_POSITIVE: 'Falso positivo',
  EXPECTED: 'Esperado',
  NOT_ACTIONABLE: 'Sem ação possível',
};

export const PROPOSAL_STATUS_LABELS = {
  DRAFT: 'Rascunho',
  PENDING_REVIEW: 'Pendente',
  APPROVED: 'Aprovada',
  REJECTED: 'Rejeitada',
  IMPLEMENTED: 'Implementada',
};

export const VERDICT_LABELS = {
  FITS: 'cabe no prazo de experimento',
  LONGER_THAN_LIMIT: 'mais longo que o prazo permitido',
  NOT_TESTABLE: 'não testável por experimento',
};

export const POINT_STATE_LABELS = {
  ok: 'medido',
  censored: 'censurado: coorte ainda sem maturidade',
  empty: 'sem atividade no dia',
  missing: 'não coletado',
};

const number = (digits) =>
  new Intl.NumberFormat('pt-BR', { minimumFractionDigits: 0, maximumFractionDigits: digits });

/** 38.89 → "38,9"; null → "—". */
export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return number(digits).format(value);
}

/** A value already in percent: 38.89 → "38,9%". */
export function formatPercent(value, digits = 1) {
  return value === null || value === undefined ? '—' : `${formatNumber(value, digits)}%`;
}

/** Percentage points with a sign: -2.32 → "−2,3 p.p.". */
export function formatPoints(value) {
  if (value === null || value === undefined) return '';
  const sign = value > 0 ? '+' : value < 0 ? '−' : '±';
  return `${sign}${formatNumber(Math.abs(value))} p.p.`;
}

export function formatMoney(value) {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat('pt-BR', { style: 'currency', currency: 'BRL' }).format(value);
}

/** "2026-06-30" → "30/06/2026"; "2026-06-30" with short → "30/06". */
export function formatDate(iso, { short = false } = {}) {
  if (!iso) return '—';
  const [year, month, day] = iso.slice(0, 10).split('-');
  return short ? `${day}/${month}` : `${day}/${month}/${year}`;
}

/** "2026-06-30T11:57:22" → "30/06/2026 11:57". */
export function formatDateTime(iso) {
  if (!iso) return '—';
  return `${formatDate(iso)} ${iso.slice(11, 16)}`.trim();
}

/**
 * A policy parameter's value as people read it: percent parameters (`*_pct`) get "%",
 * shares (`*_rate`, 0-1) become percent, lists are joined.
 */
export function formatPolicyValue(parameter, value) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'number') {
    if (parameter?.endsWith('_pct')) return `${formatNumber(value, 2)}%`;
    if (parameter?.endsWith('_rate') && value >= 0 && value <= 1) return `${formatNumber(value * 100, 2)}%`;
    return formatNumber(value, 2);
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** "10% → 5%" for a proposal or a pending item. */
export function formatChange(proposal) {
  const parameter = proposal.affected_policy;
  return `${formatPolicyValue(parameter, proposal.current_value)} → ${formatPolicyValue(parameter, proposal.proposed_value)}`;
}

/** 363 days → "~52 semanas (363 dias)". */
export function formatDuration(days) {
  if (days === null || days === undefined) return null;
  if (days < 14) return `${days} ${days === 1 ? 'dia' : 'dias'}`;
  return `~${Math.round(days / 7)} semanas (${days} dias)`;
}

/** An evidence value: rates as numbers, nested objects as compact JSON. */
export function formatEvidence(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(2).replace('.', ',');
    return formatNumber(value, 3);
  }
  if (typeof value === 'boolean') return value ? 'sim' : 'não';
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
