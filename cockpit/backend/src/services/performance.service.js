/**
 * chanperf's Performance API (/v1/performance) for the Seller Cockpit.
 *
 * An ES module with no dependency beyond the platform's `fetch` (Node >= 20, or a browser).
 * The Cockpit's backend takes this file as it is:
 *
 *   import performanceService from './services/performance.service.js';
 *   const dashboard = await performanceService.getDashboardData();
 *
 * The default export (and the named functions of the same names) read CHANPERF_URL
 * (e.g. http://chanperf:8024), CHANPERF_API_KEY and optionally CHANPERF_TIMEOUT_MS from
 * the environment on their first call. `createPerformanceService(options)` builds a
 * service for another base URL or key (the standalone page uses it in the browser).
 *
 * Every call has a timeout (10 s unless told). Reads (GET) are tried once more after a
 * 5xx answer, a network error or a timeout; writes are never repeated, since the first
 * one may have reached the API. A failure throws ChanperfApiError carrying the API's
 * `code` (its HTTP status) and `message` — or code NETWORK_ERROR / TIMEOUT when no answer
 * came — with the per-field `errors` of a 422.
 */

export const API_PREFIX = '/v1/performance';
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_DELAY_MS = 300;

export class ChanperfApiError extends Error {
  /**
   * @param {object} details
   * @param {number} details.status HTTP status, 0 when no answer came
   * @param {number|string} details.code the API's `code`, or NETWORK_ERROR / TIMEOUT
   * @param {string} details.message the API's `message`
   * @param {object} [details.errors] the API's per-field errors (422)
   * @param {string} details.method
   * @param {string} details.path
   * @param {number} details.attempts how many requests were sent
   */
  constructor({ status, code, message, errors = {}, method, path, attempts, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ChanperfApiError';
    this.status = status;
    this.code = code;
    this.errors = errors;
    this.method = method;
    this.path = path;
    this.attempts = attempts;
  }

  get isConflict() {
    return this.status === 409;
  }
}

/** Query string of `params`: arrays repeat the key, null/undefined/'' are left out. */
export function toQuery(params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== '') search.append(key, String(item));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function apiError(response, body, method, path, attempts) {
  const shaped = body && typeof body === 'object' ? body : {};
  return new ChanperfApiError({
    status: response.status,
    code: shaped.code ?? response.status,
    message:
      shaped.message ?? (typeof body === 'string' && body ? body : response.statusText || 'error'),
    errors: shaped.errors ?? {},
    method,
    path,
    attempts,
  });
}

function transportError(error, method, path, attempts, timeoutMs) {
  const timedOut = error?.name === 'TimeoutError' || error?.name === 'AbortError';
  return new ChanperfApiError({
    status: 0,
    code: timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
    message: timedOut
      ? `no answer from chanperf within ${timeoutMs} ms (${method} ${path})`
      : `chanperf unreachable (${method} ${path}): ${error?.cause?.code ?? error?.message ?? error}`,
    method,
    path,
    attempts,
    cause: error,
  });
}

function pathOf(segment, id) {
  return `${segment}/${encodeURIComponent(String(id))}`;
}

/**
 * A service bound to one chanperf and one key.
 *
 * @param {object} options
 * @param {string} options.baseUrl where chanperf listens (may end in a path prefix), e.g. http://chanperf:8024
 * @param {string} options.apiKey a key made by `chanperf apikey new`
 * @param {number} [options.timeoutMs] per request, default 10 000
 * @param {number} [options.retryDelayMs] wait before the one retry of a read, default 300
 * @param {typeof fetch} [options.fetch] default globalThis.fetch
 */
export function createPerformanceService({
  baseUrl,
  apiKey,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  retryDelayMs = DEFAULT_RETRY_DELAY_MS,
  fetch: fetchImpl = globalThis.fetch,
} = {}) {
  if (typeof baseUrl !== 'string') throw new TypeError('baseUrl is required (chanperf URL)');
  if (!apiKey) throw new TypeError('apiKey is required (a chanperf API key)');
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: Node >= 20 or a browser');
  const root = baseUrl.replace(/\/+$/, '') + API_PREFIX;

  async function request(method, path, { query, body } = {}) {
    const url = root + path + toQuery(query);
    const headers = { Accept: 'application/json', Authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const tries = method === 'GET' ? 2 : 1;
    for (let attempt = 1; ; attempt += 1) {
      let failure;
      try {
        const response = await fetchImpl(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const data = await readBody(response);
        if (response.ok) return { data, headers: response.headers, status: response.status };
        failure = apiError(response, data, method, path, attempt);
      } catch (error) {
        failure = transportError(error, method, path, attempt, timeoutMs);
      }
      const retryable = failure.status === 0 || failure.status >= 500;
      if (!retryable || attempt >= tries) throw failure;
      await sleep(retryDelayMs);
    }
  }

  const read = async (path, query) => (await request('GET', path, { query })).data;
  const write = async (path, body) => (await request('POST', path, { body })).data;

  return {
    /**
     * Insights, filtered and paginated.
     * @param {object} [filters] type, severity, status, category (arrays allowed), region,
     *   segment, period, sort ("-severity,-id"), page, page_size
     * @returns {Promise<{items: object[], pagination: object|null}>} pagination is the
     *   API's X-Pagination header (total, total_pages, page, ...)
     */
    async getInsights(filters = {}) {
      const { data, headers } = await request('GET', '/insights', { query: filters });
      const header = headers.get('X-Pagination');
      return { items: data, pagination: header ? JSON.parse(header) : null };
    },

    /** One insight with its proposals (summaries). */
    getInsight(id) {
      return read(pathOf('/insights', id));
    },

    /**
     * Act on an insight (analyst): "review" | "start" | "implement" | "dismiss" | "reopen",
     * or an object {action, reason, implementation_notes, ...}. Resolves to the updated insight.
     */
    actOnInsight(id, action) {
      const body = typeof action === 'string' ? { action } : { ...action };
      return write(`${pathOf('/insights', id)}/action`, body);
    },

    /** The latest stored period and the one before: {current, previous}. */
    getMetrics(params = {}) {
      return read('/metrics', params);
    },

    /** Stored periods: {period_type, from, to, dimension, dimension_value}. */
    getMetricsHistory(params = {}) {
      return read('/metrics/history', params);
    },

    /**
     * One metric column over time: {metric, period_type, points}.
     * @param {string} metric e.g. onboarding_rate
     * @param {number|string|object} [period] days (30), a period type ("WEEKLY"), or
     *   {days, period_type, end}
     */
    getTrends(metric, period) {
      let query = {};
      if (typeof period === 'number') query = { days: period };
      else if (typeof period === 'string') query = { period_type: period };
      else if (period) query = period;
      return read(pathOf('/trends', metric), query);
    },

    /** Everything the Performance page draws; params {as_of: "YYYY-MM-DD"} (default yesterday). */
    getDashboardData(params = {}) {
      return read('/dashboard', params);
    },

    /** Proposals; status default PENDING_REVIEW, "ALL", or a list of statuses. */
    getProposals(status) {
      return read('/proposals', { status });
    },

    /** Approve (approver): resolves to the proposal, now APPROVED; 409 when not pending. */
    approveProposal(id) {
      return write(`${pathOf('/proposals', id)}/approve`, {});
    },

    /** Reject with a reason (approver): resolves to the proposal, now REJECTED. */
    rejectProposal(id, reason) {
      return write(`${pathOf('/proposals', id)}/reject`, { reason });
    },

    /**
     * Start an analysis (analyst): {as_of, rerun} optional; resolves to the job (202), queued
     * or started: the analysis runs in the background, `getJob(job.id)` follows it.
     */
    triggerAnalysis(options = {}) {
      return write('/analyze', options);
    },

    /** A job's status: queued, started, finished (with its result) or failed (with its error). */
    getJob(id) {
      return read(pathOf('/jobs', id));
    },
  };
}

/** A service configured from CHANPERF_URL, CHANPERF_API_KEY and CHANPERF_TIMEOUT_MS. */
export function serviceFromEnv(env = globalThis.process?.env ?? {}) {
  const missing = ['CHANPERF_URL', 'CHANPERF_API_KEY'].filter((name) => !env[name]);
  if (missing.length) throw new Error(`${missing.join(' and ')} not set: where chanperf is, and a key`);
  const timeoutMs = env.CHANPERF_TIMEOUT_MS ? Number(env.CHANPERF_TIMEOUT_MS) : undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    throw new Error(`CHANPERF_TIMEOUT_MS must be a positive number of milliseconds`);
  }
  return createPerformanceService({
    baseUrl: env.CHANPERF_URL,
    apiKey: env.CHANPERF_API_KEY,
    timeoutMs,
  });
}

let configured = null;
const fromEnv = () => (configured ??= serviceFromEnv());

export const getInsights = (filters) => fromEnv().getInsights(filters);
export const getInsight = (id) => fromEnv().getInsight(id);
export const actOnInsight = (id, action) => fromEnv().actOnInsight(id, action);
export const getMetrics = (params) => fromEnv().getMetrics(params);
export const getMetricsHistory = (params) => fromEnv().getMetricsHistory(params);
export const getTrends = (metric, period) => fromEnv().getTrends(metric, period);
export const getDashboardData = (params) => fromEnv().getDashboardData(params);
export const getProposals = (status) => fromEnv().getProposals(status);
export const approveProposal = (id) => fromEnv().approveProposal(id);
export const rejectProposal = (id, reason) => fromEnv().rejectProposal(id, reason);
export const triggerAnalysis = (options) => fromEnv().triggerAnalysis(options);
export const getJob = (id) => fromEnv().getJob(id);

const performanceService = {
  getInsights,
  getInsight,
  actOnInsight,
  getMetrics,
  getMetricsHistory,
  getTrends,
  getDashboardData,
  getProposals,
  approveProposal,
  rejectProposal,
  triggerAnalysis,
  getJob,
};

export default performanceService;
