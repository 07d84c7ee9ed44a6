import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import StandaloneApp, { KEY_STORAGE, apiBaseFrom } from '../src/standalone/StandaloneApp.jsx';
import { dashboardFor } from './fakeService.js';
import topInsights from './fixtures/insights-top.json';

const PAGE = 'http://127.0.0.1:8024/performance/?as_of=2026-06-30';

/** chanperf as seen through fetch: the dashboard and the top insights for `key`, else 401. */
function fakeFetch(key) {
  return vi.fn(async (url, init) => {
    const json = (status, body, headers = {}) =>
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
    if (init.headers.Authorization !== `Bearer ${key}`) {
      return json(401, { code: 401, status: 'Unauthorized', message: 'invalid API key', errors: {} });
    }
    if (url.includes('/dashboard')) return json(200, dashboardFor('analyst'));
    return json(200, topInsights, { 'X-Pagination': '{"total": 22, "total_pages": 8, "page": 1}' });
  });
}

describe('the standalone page', () => {
  it('finds chanperf beside the page, under any prefix', () => {
    expect(apiBaseFrom(PAGE)).toBe('http://127.0.0.1:8024');
    expect(apiBaseFrom('https://intranet.example/chanperf/performance/')).toBe('https://intranet.example/chanperf');
  });

  it('asks for the key once, keeps it for the session, and sends it as a bearer token', async () => {
    const fetch = fakeFetch('cpk_good');
    render(<StandaloneApp href={PAGE} storage={sessionStorage} fetch={fetch} />);
    expect(fetch).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Entrar' })).toBeDisabled();
    await userEvent.type(screen.getByLabelText('Chave de API do chanperf'), 'cpk_good');
    await userEvent.click(screen.getByRole('button', { name: 'Entrar' }));

    expect(await screen.findByTestId('week-label')).toHaveTextContent('analyst-e2e (analista)');
    expect(sessionStorage.getItem(KEY_STORAGE)).toBe('cpk_good');
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('http://127.0.0.1:8024/v1/performance/dashboard?as_of=2026-06-30');
    expect(init.headers.Authorization).toBe('Bearer cpk_good');
  });

  it('does not ask again while the session has the key', async () => {
    sessionStorage.setItem(KEY_STORAGE, 'cpk_good');
    render(<StandaloneApp href={PAGE} storage={sessionStorage} fetch={fakeFetch('cpk_good')} />);
    expect(screen.queryByLabelText('Chave de API do chanperf')).toBeNull();
    expect(await screen.findByTestId('week-label')).toBeInTheDocument();
  });

  it('asks again, saying why, when the API refuses the key', async () => {
    sessionStorage.setItem(KEY_STORAGE, 'cpk_revoked');
    render(<StandaloneApp href={PAGE} storage={sessionStorage} fetch={fakeFetch('cpk_good')} />);
    expect(await screen.findByText('A API recusou a chave (401: invalid API key). Informe outra.')).toHaveAttribute(
      'role',
      'alert',
    );
    expect(screen.getByLabelText('Chave de API do chanperf')).toBeInTheDocument();
    expect(sessionStorage.getItem(KEY_STORAGE)).toBeNull();
  });

  it('forgets the key on "Trocar chave"', async () => {
    sessionStorage.setItem(KEY_STORAGE, 'cpk_good');
    render(<StandaloneApp href={PAGE} storage={sessionStorage} fetch={fakeFetch('cpk_good')} />);
    await screen.findByTestId('week-label');
    await userEvent.click(screen.getByRole('button', { name: 'Trocar chave' }));
    await waitFor(() => expect(screen.getByLabelText('Chave de API do chanperf')).toBeInTheDocument());
    expect(sessionStorage.getItem(KEY_STORAGE)).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
