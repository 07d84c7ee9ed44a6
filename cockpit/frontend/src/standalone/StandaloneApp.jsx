import { useCallback, useMemo, useState } from 'react';

import { createPerformanceService } from '../../../backend/src/services/performance.service.js';
import PerformancePage from '../pages/PerformancePage.jsx';
import './standalone.css';

// The key lives in sessionStorage: asked once per browser tab session, gone when it closes.
export const KEY_STORAGE = 'chanperf.apiKey';

/** chanperf's base URL: the page is served at <base>/performance/. */
export function apiBaseFrom(href) {
  return new URL('../', href).href.replace(/\/+$/, '');
}

function KeyForm({ onKey, refused }) {
  const [value, setValue] = useState('');
  return (
    <main className="cp-page cp-keyform">
      <h1>Performance do Canal</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim()) onKey(value.trim());
        }}
      >
        <label htmlFor="cp-api-key">Chave de API do chanperf</label>
        <input
          id="cp-api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="cpk_…"
        />
        <button type="submit" className="cp-button" disabled={!value.trim()}>
          Entrar
        </button>
      </form>
      {refused && (
        <p className="cp-alert" role="alert">
          A API recusou a chave ({refused.code ?? refused.status}: {refused.message}). Informe outra.
        </p>
      )}
      <p className="cp-muted">
        A chave é pedida uma vez por sessão do navegador e fica só nesta aba (sessionStorage). Quem administra o
        chanperf cria uma com <code>chanperf apikey new NOME --role viewer</code> (ou analyst, approver).
      </p>
    </main>
  );
}

/** The standalone Performance page: asks for a key, then calls chanperf directly with it. */
export default function StandaloneApp({
  href = window.location.href,
  storage = window.sessionStorage,
  fetch: fetchImpl,
}) {
  const [key, setKey] = useState(() => storage.getItem(KEY_STORAGE));
  const [refused, setRefused] = useState(null);
  const asOf = new URL(href).searchParams.get('as_of') || undefined;
  const baseUrl = apiBaseFrom(href);
  const service = useMemo(
    () => (key ? createPerformanceService({ baseUrl, apiKey: key, ...(fetchImpl && { fetch: fetchImpl }) }) : null),
    [baseUrl, key, fetchImpl],
  );

  const forget = useCallback(
    (error) => {
      storage.removeItem(KEY_STORAGE);
      setRefused(error ?? null);
      setKey(null);
    },
    [storage],
  );

  if (!service) {
    return (
      <KeyForm
        refused={refused}
        onKey={(value) => {
          storage.setItem(KEY_STORAGE, value);
          setRefused(null);
          setKey(value);
        }}
      />
    );
  }
  return (
    <>
      <nav className="cp-topbar">
        <span>chanperf</span>
        <button type="button" className="cp-button cp-button--small" onClick={() => forget(null)}>
          Trocar chave
        </button>
      </nav>
      <PerformancePage service={service} asOf={asOf} onUnauthorized={forget} />
    </>
  );
}
