import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Run `load()` now and whenever `deps` change: {status: loading|ready|error, data, error,
 * reload, setData}. An answer that arrives after a newer load started is dropped.
 * `reload({quiet: true})` keeps the current data on screen while it loads.
 */
export default function useAsync(load, deps) {
  const [state, setState] = useState({ status: 'loading', data: undefined, error: null });
  const generation = useRef(0);

  const run = useCallback(load, deps);

  const reload = useCallback(
    async ({ quiet = false } = {}) => {
      const mine = ++generation.current;
      if (!quiet) setState((s) => ({ ...s, status: 'loading', error: null }));
      try {
        const data = await run();
        if (mine === generation.current) setState({ status: 'ready', data, error: null });
      } catch (error) {
        if (mine === generation.current) setState((s) => ({ ...s, status: 'error', error }));
      }
    },
    [run],
  );

  useEffect(() => {
    reload();
  }, [reload]);

  const setData = useCallback((update) => {
    setState((s) => ({ ...s, data: typeof update === 'function' ? update(s.data) : update }));
  }, []);

  return { ...state, reload, setData };
}
