/** An API failure in pt-BR, with the API's code and message, and a way to try again. */
export default function ErrorNotice({ error, what, onRetry }) {
  const code = error?.code ?? error?.status;
  return (
    <div className="cp-alert" role="alert">
      <p>
        Não foi possível carregar {what}
        {code ? ` (${code})` : ''}: {error?.message ?? String(error)}
      </p>
      {onRetry && (
        <button type="button" className="cp-button cp-button--small" onClick={() => onRetry()}>
          Tentar de novo
        </button>
      )}
    </div>
  );
}

/** "← Voltar" to where the reader came from; nothing when there is nowhere to go. */
export function BackButton({ onBack }) {
  if (!onBack) return null;
  return (
    <button type="button" className="cp-link" onClick={onBack}>
      ← Voltar
    </button>
  );
}
