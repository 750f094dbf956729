import { diffLines } from "diff";
import type { Tool } from "../../lib/api";

export type Definition = NonNullable<Tool["pending_definition"]>;
const FIELDS = ["title", "description", "input_schema", "output_schema", "annotations"] as const;

/** The approved definition, as the server gave it (without the admin's overrides). */
export function approvedDefinition(tool: Tool): Definition {
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
 * A definition against the one before it, field by field (only the fields that differ); with no
 * definition before, every field as added.
 */
export function DefinitionDiff({
  before,
  after,
}: {
  before: Definition | null;
  after: Definition;
}) {
  const changed = FIELDS.filter(
    (field) => before === null || text(before[field]) !== text(after[field]),
  );
  if (changed.length === 0) return <p className="muted small">No field differs.</p>;
  return (
    <>
      {changed.map((field) => (
        <FieldDiff
          key={field}
          field={field}
          before={before === null ? "" : text(before[field])}
          after={text(after[field])}
        />
      ))}
    </>
  );
}
