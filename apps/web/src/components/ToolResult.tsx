import { pretty } from "../lib/format";
import { asArray, isRecord } from "../lib/schema-form/schema";

/*
 * Renders an MCP CallToolResult as the server returned it. The value comes from a tool we do not
 * control, so every part is checked before use and anything unrecognised is shown as JSON.
 */

const BASE64 = /^[A-Za-z0-9+/=\s]*$/;
const IMAGE_MIME = /^image\/(png|jpeg|gif|webp|bmp|svg\+xml|avif)$/;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function ContentItem({ item, index }: { item: unknown; index: number }) {
  if (!isRecord(item)) return <pre className="code">{pretty(item)}</pre>;
  const type = str(item.type);
  if (type === "text") {
    const text = str(item.text) ?? "";
    return <pre className="code code--text">{text}</pre>;
  }
  if (type === "image") {
    const data = str(item.data) ?? "";
    const mime = str(item.mimeType) ?? "";
    // Only real base64 image payloads become data: URLs; anything else is shown, not loaded.
    if (!IMAGE_MIME.test(mime) || !BASE64.test(data)) {
      return <p className="muted">Image content with unsupported type “{mime}”.</p>;
    }
    return (
      <figure className="result-image">
        <img
          src={`data:${mime};base64,${data.replace(/\s/g, "")}`}
          alt={`Image result ${index + 1} (${mime})`}
        />
        <figcaption className="muted small">{mime}</figcaption>
      </figure>
    );
  }
  if (type === "audio") {
    const data = str(item.data) ?? "";
    return (
      <p className="muted">
        Audio content ({str(item.mimeType) ?? "unknown type"},{" "}
        {Math.round((data.length * 3) / 4 / 1024)} KiB) — not playable here.
      </p>
    );
  }
  if (type === "resource" && isRecord(item.resource)) {
    const resource = item.resource;
    const text = str(resource.text);
    return (
      <div className="result-resource">
        <div className="muted small">
          Resource <span className="mono">{str(resource.uri) ?? ""}</span>{" "}
          {str(resource.mimeType) ? `(${str(resource.mimeType) ?? ""})` : ""}
        </div>
        {text !== undefined ? (
          <pre className="code">{text}</pre>
        ) : (
          <p className="muted">
            Binary content ({(str(resource.blob) ?? "").length} base64 characters).
          </p>
        )}
      </div>
    );
  }
  if (type === "resource_link") {
    return (
      <p>
        Resource link: <span className="mono">{str(item.uri) ?? ""}</span>{" "}
        {str(item.name) ? `— ${str(item.name) ?? ""}` : ""}
      </p>
    );
  }
  return <pre className="code">{pretty(item)}</pre>;
}

export function ToolResult({
  output,
  truncated = false,
}: {
  output: unknown;
  truncated?: boolean;
}) {
  if (output === null || output === undefined) return <p className="muted">No output.</p>;
  if (!isRecord(output)) return <pre className="code">{pretty(output)}</pre>;
  const content = asArray(output.content) ?? [];
  const structured = output.structuredContent;
  const isError = output.isError === true;
  return (
    <div className={`tool-result ${isError ? "tool-result--error" : ""}`}>
      {truncated ? (
        <p className="alert alert--warning">
          The output was larger than 1 MiB and was truncated when stored.
        </p>
      ) : null}
      {isError ? <p className="tool-result__flag">The tool reported an error:</p> : null}
      {content.length === 0 && structured === undefined ? (
        <p className="muted">The tool returned no content.</p>
      ) : null}
      {content.map((item, index) => (
        <ContentItem key={index} item={item} index={index} />
      ))}
      {structured !== undefined ? (
        <div>
          <h4 className="small-heading">Structured content</h4>
          <pre className="code">{pretty(structured)}</pre>
        </div>
      ) : null}
      <details>
        <summary>Raw result</summary>
        <pre className="code">{pretty(output)}</pre>
      </details>
    </div>
  );
}
