import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { Button } from "../../components/Button";
import { useOrg } from "../../layout/org-context";
import { trpc } from "../../lib/trpc";

const DISMISSED_KEY = "onboarding-dismissed:";

interface Step {
  label: string;
  hint: string;
  page: string;
  done: boolean | undefined;
}

/**
 * The first-steps checklist of an organization, each step read from real data with one row of the
 * matching list (one batched request): it ticks itself as the org gets set up and disappears once
 * every step is done or a user dismisses it (remembered per org in this browser).
 */
export function Onboarding({ hasConnections }: { hasConnections: boolean | undefined }) {
  const { org, path } = useOrg();
  const [dismissed, setDismissed] = useState(
    () => localStorage.getItem(DISMISSED_KEY + org.id) !== null,
  );
  const first = { org_id: org.id, limit: 1 };
  const enabled = !dismissed;
  const tools = useQuery({ ...trpc.tools.list.queryOptions(first), enabled });
  const agents = useQuery({ ...trpc.agents.list.queryOptions(first), enabled });
  const policies = useQuery({
    ...trpc.policies.list.queryOptions({ ...first, effect: "allow" }),
    enabled,
  });
  const runs = useQuery({ ...trpc.runs.list.queryOptions(first), enabled });
  const any = (page: { results: unknown[] } | undefined) =>
    page === undefined ? undefined : page.results.length > 0;

  const steps: Step[] = [
    {
      label: "Connect an MCP server",
      hint: "Register the server's URL or command, with its secrets.",
      page: path("connections"),
      done: hasConnections,
    },
    {
      label: "Sync its tools",
      hint: "Syncing a connection brings its tools into the registry.",
      page: path("connections"),
      done: any(tools.data),
    },
    {
      label: "Create an agent",
      hint: "An agent is the identity a client calls tools as.",
      page: path("agents"),
      done: any(agents.data),
    },
    {
      label: "Allow tools with a policy",
      hint: "Nothing runs until an allow policy matches.",
      page: path("policies"),
      done: any(policies.data),
    },
    {
      label: "Connect a client and make a call",
      hint: "Give a client the agent's key or let it sign in with OAuth; its first call shows here.",
      page: path("runs"),
      done: any(runs.data),
    },
  ];
  if (dismissed || steps.some((step) => step.done === undefined)) return null;
  const doneCount = steps.filter((step) => step.done).length;
  if (doneCount === steps.length) return null;

  return (
    <section className="card onboarding" aria-labelledby="onboarding-title">
      <div className="card__header card__header--plain">
        <h2 id="onboarding-title">
          Get started{" "}
          <span className="muted small">
            {doneCount}/{steps.length} done
          </span>
        </h2>
        <Button
          size="sm"
          variant="ghost"
          onClick={() => {
            localStorage.setItem(DISMISSED_KEY + org.id, "1");
            setDismissed(true);
          }}
        >
          Dismiss
        </Button>
      </div>
      <ol className="onboarding__steps">
        {steps.map((step) => (
          <li key={step.label} className={step.done ? "onboarding__step--done" : undefined}>
            <span className="onboarding__tick" aria-hidden="true">
              {step.done ? "✓" : ""}
            </span>
            <span>
              <Link to={step.page} className="strong">
                {step.label}
              </Link>
              <span className="sr-only">{step.done ? " (done)" : " (to do)"}</span>
              <span className="muted small"> {step.hint}</span>
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
