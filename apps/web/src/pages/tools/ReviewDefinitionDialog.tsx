import { useMutation } from "@tanstack/react-query";
import { diffLines } from "diff";
import type { Tool } from "../../lib/api";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { queryClient, trpc } from "../../lib/trpc";

type Definition = NonNullable<Tool["pending_definition"]>;
const FIELDS = ["title", "description", "input_schema", "output_schema", "annotations"] as const;

/** The approved definition, as the server gave it (without the admin's overrides). */
function approvedDefinition(tool: Tool): Definition {
  return {
    title: tool.upstream_title,
    description: tool.upstream_description,
    input_schema: tool.input_schema,
    output_schema: tool.output_schema,
    annotations: tool.annotations,
  };
}

function text(value: unknown): string {
  if (value === null) return "(none)\n";
  const shown = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return shown.endsWith("\n") ? shown : `${shown}\n`;
}

/** One field's line diff: removed lines red, added ones green, the rest as context. */
function FieldDiff({ field, before, after }: { field: string; before: string; after: string }) {
  return (
    <section className="diff" aria-label={`Changes to ${field}`}>
      <h3 className="diff__field mono">{field}</h3>
      <pre className="code code--text diff__body">
        {diffLines(before, after).map((part, index) => (
          <span
            key={index}
            className={part.added ? "diff__added" : part.removed ? "diff__removed" : undefined}
          >
            {part.value
              .replace(/\n$/, "")
              .split("\n")
              .map((line) => `${part.added ? "+ " : part.removed ? "- " : "  "}${line}\n`)
              .join("")}
          </span>
        ))}
      </pre>
    </section>
  );
}

/**
 * What an admin approves or rejects: the server's definition under review against the approved
 * one, field by field. The decision carries the hash of what is shown, so a definition that
 * changed again meanwhile is refused rather than approved unseen.
 */
export function ReviewDefinitionDialog({ tool, onClose }: { tool: Tool; onClose: () => void }) {
  const toast = useToast();
  const isNew = tool.quarantine === "new";
  const before: Definition | null = isNew ? null : approvedDefinition(tool);
  const after: Definition = tool.pending_definition ?? approvedDefinition(tool);
  const hash = (isNew ? tool.definition_hash : tool.pending_hash) ?? "";
  const changed = FIELDS.filter(
    (field) => before === null || text(before[field]) !== text(after[field]),
  );
  const done = async (message: string) => {
    await queryClient.invalidateQueries(trpc.tools.pathFilter());
    toast(message);
    onClose();
  };
  const approve = useMutation(
    trpc.tools.approveDefinition.mutationOptions({
      onSuccess: (updated) => done(`Approved the definition of ${updated.name}`),
    }),
  );
  const reject = useMutation(
    trpc.tools.rejectDefinition.mutationOptions({
      onSuccess: (updated) => done(`Rejected the definition of ${updated.name}`),
    }),
  );
  const busy = approve.isPending || reject.isPending;
  return (
    <Dialog
      open
      onClose={onClose}
      size="lg"
      title={`Review ${tool.name}`}
      description={
        isNew
          ? "A new tool from the server. Approve it to make it callable, or reject it to keep it disabled."
          : tool.quarantine === "rejected"
            ? "You rejected this change; the server still offers it, so the tool stays quarantined. You may approve it after all."
            : "The server changed this tool since its definition was approved. It cannot be called until you decide. Rejecting keeps the approved definition and the tool quarantined until the server restores it."
      }
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          {tool.quarantine === "rejected" ? null : (
            <Button
              variant="danger"
              busy={reject.isPending}
              disabled={busy}
              onClick={() => {
                reject.mutate({ id: tool.id, hash });
              }}
            >
              Reject
            </Button>
          )}
          <Button
            variant="primary"
            busy={approve.isPending}
            disabled={busy}
            onClick={() => {
              approve.mutate({ id: tool.id, hash });
            }}
          >
            Approve
          </Button>
        </>
      }
    >
      <FormError error={approve.error ?? reject.error} />
      {tool.description_override !== null || tool.title_override !== null ? (
        <p className="muted small">
          Agents keep seeing your own title and description overrides either way.
        </p>
      ) : null}
      {changed.map((field) => (
        <FieldDiff
          key={field}
          field={field}
          before={before === null ? "" : text(before[field])}
          after={text(after[field])}
        />
      ))}
      <p className="muted small mono wrap">sha256 {hash}</p>
    </Dialog>
  );
}
