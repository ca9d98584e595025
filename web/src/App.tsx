import { useCallback, useEffect, useMemo, useState } from "react";
import { UNAUTHENTICATED_EVENT } from "./api/client";
import { useQuery } from "./api/useQuery";
import { type Viewer, ViewerContext } from "./api/viewer";
import { TokenDialog } from "./components/TokenDialog";
import { Link, useLocation } from "./router";
import { ModelsPage } from "./pages/ModelsPage";
import { ModelPage } from "./pages/ModelPage";
import { MergeBuilderPage } from "./pages/MergeBuilderPage";
import { LeaderboardPage } from "./pages/LeaderboardPage";
import { JobsPage } from "./pages/JobsPage";
import { SearchesPage } from "./pages/SearchesPage";
import { SearchPage } from "./pages/SearchPage";

const NAV = [
  { to: "/models", label: "Models", match: (p: string) => p === "/" || p.startsWith("/models") },
  { to: "/merge", label: "Merge builder", match: (p: string) => p.startsWith("/merge") },
  { to: "/searches", label: "Merge searches", match: (p: string) => p.startsWith("/searches") },
  { to: "/leaderboard", label: "Leaderboard", match: (p: string) => p.startsWith("/leaderboard") },
  { to: "/jobs", label: "Jobs", match: (p: string) => p.startsWith("/jobs") },
];

function Page({ path }: { path: string }) {
  const model = /^\/models\/([^/]+)\/?$/.exec(path);
  if (model) return <ModelPage id={decodeURIComponent(model[1])} />;
  if (path === "/" || path === "/models" || path === "/models/") return <ModelsPage />;
  const search = /^\/searches\/([^/]+)\/?$/.exec(path);
  if (search) return <SearchPage id={decodeURIComponent(search[1])} />;
  if (path === "/searches" || path === "/searches/") return <SearchesPage />;
  if (path.startsWith("/merge")) return <MergeBuilderPage />;
  if (path.startsWith("/leaderboard")) return <LeaderboardPage />;
  if (path.startsWith("/jobs")) return <JobsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link to="/models">Go to the models</Link>.
      </p>
    </section>
  );
}

export function App() {
  const { path } = useLocation();
  const viewerQuery = useQuery<{ viewer: Viewer }>(`{ viewer { name role anonymous } }`);
  const [asking, setAsking] = useState<{ reason?: string } | null>(null);

  useEffect(() => {
    const onUnauthenticated = (event: Event) => setAsking({ reason: (event as CustomEvent<string>).detail });
    window.addEventListener(UNAUTHENTICATED_EVENT, onUnauthenticated);
    return () => window.removeEventListener(UNAUTHENTICATED_EVENT, onUnauthenticated);
  }, []);
  useEffect(() => {
    const title = NAV.find((n) => n.match(path))?.label;
    document.title = title ? `${title} · layermerge` : "layermerge";
  }, [path]);

  const askForToken = useCallback((reason?: string) => setAsking({ reason }), []);
  const viewer = viewerQuery.data?.viewer;
  const state = useMemo(() => ({ viewer, askForToken }), [viewer, askForToken]);

  return (
    <ViewerContext.Provider value={state}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/models" className="brand">
          layermerge
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={item.match(path) ? "page" : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
            <li>
              <a href="/graphiql">GraphQL explorer</a>
            </li>
          </ul>
        </nav>
        <div className="viewer">
          {viewer ? (
            <span className="role" data-testid="viewer">
              {viewer.anonymous ? "anonymous" : viewer.name} · {viewer.role.toLowerCase()}
            </span>
          ) : null}
          <button type="button" onClick={() => askForToken()}>
            {viewer && !viewer.anonymous ? "Change token" : "Enter token"}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
      {asking ? <TokenDialog reason={asking.reason} onClose={() => setAsking(null)} /> : null}
    </ViewerContext.Provider>
  );
}
