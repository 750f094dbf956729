import { useConfirm } from "../components/Confirm";
import { errorInfo } from "./errors";

/**
 * Deletes an agent or environment the server refuses to delete while policies name it: the first
 * confirmation tries the plain delete; if policies would go with it, a second one lists them and
 * asks for the name to be typed before deleting with `confirm_policy_removal`.
 */
export function useDeleteWithPolicies() {
  const confirm = useConfirm();
  return (options: {
    kind: "agent" | "environment";
    name: string;
    body: string;
    remove: (confirmPolicyRemoval: boolean) => Promise<unknown>;
    done: () => Promise<void>;
  }) => {
    const { kind, name } = options;
    confirm({
      title: `Delete ${kind} “${name}”?`,
      body: options.body,
      confirmLabel: `Delete ${kind}`,
      action: async () => {
        try {
          await options.remove(false);
        } catch (error) {
          const { code, policies } = errorInfo(error);
          if (code !== "CONFLICT" || policies.length === 0) throw error;
          const count = policies.length === 1 ? "1 policy" : `${policies.length} policies`;
          confirm({
            title: `Delete ${kind} “${name}” and ${count}?`,
            body: (
              <>
                <p>
                  These policies name this {kind} and are deleted with it (each deletion is recorded
                  in the audit log):
                </p>
                <ul aria-label="Policies deleted with it">
                  {policies.map((policy) => (
                    <li key={policy.id} className="strong">
                      {policy.name}
                    </li>
                  ))}
                </ul>
              </>
            ),
            confirmLabel: `Delete ${kind} and ${count}`,
            typeToConfirm: name,
            action: async () => {
              await options.remove(true);
              await options.done();
            },
          });
          return;
        }
        await options.done();
      },
    });
  };
}
