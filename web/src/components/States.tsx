import type { ReactNode } from "react";
import type { RequestError } from "../api/client";

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** The server's own message, with its code, never "something went wrong". */
export function ErrorMessage({ error, retry }: { error: RequestError | Error; retry?: () => void }) {
  const code = (error as RequestError).code;
  const field = (error as RequestError).field;
  return (
    <div className="state error" role="alert">
      <strong>{code ? `${code}: ` : "Error: "}</strong>
      {error.message}
      {field ? <span className="muted"> (field {field})</span> : null}
      {retry ? (
        <button type="button" className="link-button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** A button that cannot be pressed says why, next to it (not only in a tooltip). */
export function GuardedButton({ allowed, reason, onAskToken, children, ...rest }: React.ButtonHTMLAttributes<HTMLButtonElement> & { allowed: boolean; reason?: string; onAskToken?: () => void }) {
  return (
    <span className="guarded">
      <button {...rest} disabled={!allowed || rest.disabled} aria-describedby={!allowed ? rest.id && `${rest.id}-why` : undefined}>
        {children}
      </button>
      {!allowed && reason ? (
        <span className="why" id={rest.id ? `${rest.id}-why` : undefined}>
          {reason}{" "}
          {onAskToken ? (
            <button type="button" className="link-button" onClick={onAskToken}>
              Enter a token
            </button>
          ) : null}
        </span>
      ) : null}
    </span>
  );
}
