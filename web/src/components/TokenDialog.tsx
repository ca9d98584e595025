import { type FormEvent, useEffect, useRef, useState } from "react";
import { readToken, writeToken } from "../api/session";

/** Asks for an API token; it is kept in sessionStorage for this tab only. */
export function TokenDialog({ reason, onClose }: { reason: string | undefined; onClose: () => void }) {
  const [value, setValue] = useState(readToken() ?? "");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    writeToken(value.trim() || null);
    onClose();
  };
  return (
    <div className="dialog-backdrop" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit={submit}>
        <h2 id="token-title">API token</h2>
        {reason ? <p className="state error">{reason}</p> : null}
        <p>
          Paste a token made with <code>npx layermerge token create --role WRITER --name you</code>. It is kept for this browser tab only.
        </p>
        <label htmlFor="token-input">Token</label>
        <input id="token-input" ref={input} type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        <div className="actions">
          <button type="submit" className="primary">
            Use token
          </button>
          {readToken() ? (
            <button type="button" onClick={() => { writeToken(null); onClose(); }}>
              Forget token
            </button>
          ) : null}
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
