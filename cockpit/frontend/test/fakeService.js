// A service object with the calls of performance.service.js, answering from the fixtures
// (captured from chanperf serve on the planted demo as of 2026-06-30).
import { vi } from 'vitest';

import { ChanperfApiError } from '../../backend/src/services/performance.service.js';
import dashboard from './fixtures/dashboard.json';
import insight5 from './fixtures/insight-5.json';
import topInsights from './fixtures/insights-top.json';

export const clone = (value) => structuredClone(value);

export function apiError(status, message, errors = {}) {
  return new ChanperfApiError({ status, code: status, message, errors, method: 'GET', path: '/', attempts: 1 });
}

export function dashboardFor(role = 'viewer') {
  const body = clone(dashboard);
  body.viewer = {
    name: `${role}-e2e`,
    role,
    can_act: role !== 'viewer',
    can_approve: role === 'approver',
  };
  return body;
}

/** Pending item `id` of the dashboard, decided as the API answers it. */
export function decided(id, status, extra = {}) {
  const item = dashboard.pending_proposals.items.find((p) => p.id === id);
  return { ...clone(item), status, ...extra };
}

export function fakeService({ role = 'viewer', overrides = {} } = {}) {
  const service = {
    getDashboardData: vi.fn(async () => dashboardFor(role)),
    getInsights: vi.fn(async ({ page_size: size = 10 } = {}) => ({
      items: clone(topInsights).slice(0, size),
      pagination: { total: 22, total_pages: 3, first_page: 1, last_page: 3, page: 1, next_page: 2 },
    })),
    getInsight: vi.fn(async () => clone(insight5)),
    actOnInsight: vi.fn(async (id, body) => ({ ...clone(insight5), status: { review: 'REVIEWED' }[body.action] ?? 'NEW' })),
    getMetrics: vi.fn(),
    getMetricsHistory: vi.fn(),
    getTrends: vi.fn(),
    getProposals: vi.fn(async () => []),
    approveProposal: vi.fn(async (id) =>
      decided(id, 'APPROVED', { approved_by: 'approver-e2e', approved_at: '2026-07-01T10:15:00' }),
    ),
    rejectProposal: vi.fn(async (id, reason) =>
      decided(id, 'REJECTED', { rejected_by: 'approver-e2e', rejected_at: '2026-07-01T10:16:00', rejection_reason: reason }),
    ),
    triggerAnalysis: vi.fn(),
  };
  return Object.assign(service, overrides);
}
