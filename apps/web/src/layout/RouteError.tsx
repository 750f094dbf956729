import { isRouteErrorResponse, useRouteError } from "react-router";
import { Button } from "../components/Button";
import { ErrorDetails } from "../components/States";
import { NotFound } from "./NotFound";

/*
 * Browsers word a failed `import()` differently; all of them mean the chunk the page asked for is
 * not on the server any more (a deploy replaced it) or could not be fetched.
 */
const STALE_CHUNK =
  /dynamically imported module|Importing a module script failed|error loading dynamically imported module|Failed to fetch|Unable to preload CSS/i;

export function isStaleChunkError(error: unknown): boolean {
  return error instanceof Error && STALE_CHUNK.test(error.message);
}

/**
 * What a route shows when its page cannot load or throws while rendering: a reload prompt in the
 * user's words, never the router's developer page. Reloading fetches the current build's chunks.
 */
export function RouteError() {
  const error = useRouteError();
  if (isRouteErrorResponse(error) && error.status === 404) return <NotFound />;
  const stale = isStaleChunkError(error);
  return (
    <div className="state state--error page" role="alert">
      <h1>{stale ? "A new version of the console is available" : "Something went wrong"}</h1>
      <p>
        {stale
          ? "This page was updated since you opened the console. Reload to get the current version."
          : "This page hit an unexpected problem. Reloading usually fixes it; your data is safe."}
      </p>
      <Button
        variant="primary"
        onClick={() => {
          window.location.reload();
        }}
      >
        Reload
      </Button>
      <ErrorDetails>{error instanceof Error ? error.message : String(error)}</ErrorDetails>
    </div>
  );
}
