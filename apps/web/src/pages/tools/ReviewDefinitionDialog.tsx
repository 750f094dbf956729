import { useMutation } from "@tanstack/react-query";
import type { Tool } from "../../lib/api";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { queryClient, trpc } from "../../lib/trpc";
import { approvedDefinition, DefinitionDiff, type Definition } from "./DefinitionDiff";

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
      <DefinitionDiff before={before} after={after} />
      <p className="muted small mono wrap">sha256 {hash}</p>
    </Dialog>
  );
}
