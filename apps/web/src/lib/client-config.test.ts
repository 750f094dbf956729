import { describe, expect, it } from "vitest";
import { AGENT_KEY_PLACEHOLDER, mcpServerKey } from "@mcp/api/contracts";
import { absoluteUrl, CLIENT_SNIPPETS, curlSnippet, mcpClientConfig } from "./client-config";

describe("agent client configuration", () => {
  it("resolves relative endpoints against the current origin", () => {
    expect(absoluteUrl("/mcp/agents/abc", "https://mcp.example.com")).toBe(
      "https://mcp.example.com/mcp/agents/abc",
    );
    expect(absoluteUrl("http://other:3000/mcp", "https://mcp.example.com")).toBe(
      "http://other:3000/mcp",
    );
  });

  it("builds an mcpServers entry with the bearer key", () => {
    const config = JSON.parse(
      mcpClientConfig("Support Bot #1", "https://x.test/mcp/a", "mcpa_secret"),
    ) as unknown;
    expect(config).toEqual({
      mcpServers: {
        "support-bot-1": {
          type: "http",
          url: "https://x.test/mcp/a",
          headers: { Authorization: "Bearer mcpa_secret" },
        },
      },
    });
    expect(mcpClientConfig("a", "u")).toContain(`Bearer ${AGENT_KEY_PLACEHOLDER}`);
  });

  it("derives a usable server key from any name", () => {
    expect(mcpServerKey("  ")).toBe("mcp-agents");
    expect(mcpServerKey("Ünïcode")).toBe("n-code");
  });

  it("quotes the curl smoke test", () => {
    const snippet = curlSnippet("https://x.test/mcp", "k");
    expect(snippet).toContain("Authorization: Bearer k");
    expect(snippet).toContain('"method":"initialize"');
  });

  it("gives every client a snippet with the endpoint and the key, JSON ones valid", () => {
    const url = "https://mcp.example.com/mcp/0193";
    for (const client of CLIENT_SNIPPETS) {
      const snippet = client.render("Support bot", url, "sk_test");
      expect(snippet, client.id).toContain(url);
      expect(snippet, client.id).toContain("Bearer sk_test");
      if (snippet.startsWith("{"))
        expect(() => JSON.parse(snippet) as unknown, client.id).not.toThrow();
    }
    const vscode = JSON.parse(
      CLIENT_SNIPPETS.find((client) => client.id === "vscode")?.render("Support bot", url, "k") ??
        "",
    ) as unknown;
    expect(vscode).toEqual({
      servers: { "support-bot": { type: "http", url, headers: { Authorization: "Bearer k" } } },
    });
  });
});
