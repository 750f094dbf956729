import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";

/*
 * /api/docs: Swagger UI over /api/v1/openapi.json, served entirely from our origin so it works
 * offline and under a CSP without inline scripts (the start-up code is a file of its own).
 */

const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Swagger UI sets style attributes from its React components.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

const INIT_SCRIPT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge calls an outside service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

interface Asset {
  file: string;
  type: string;
}

const ASSETS: Record<string, Asset> = {
  "swagger-ui.css": { file: "swagger-ui.css", type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { file: "swagger-ui-bundle.js", type: "text/javascript; charset=utf-8" },
  "favicon-32x32.png": { file: "favicon-32x32.png", type: "image/png" },
};

function swaggerUiDist(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("swagger-ui-dist/package.json");
  const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version: string };
  return { dir: dirname(manifest), version };
}

function page(assetBase: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>MCP Agents Platform API reference</title>
    <link rel="icon" type="image/png" href="${assetBase}/favicon-32x32.png" />
    <link rel="stylesheet" href="${assetBase}/swagger-ui.css" />
  </head>
  <body>
    <noscript>The reference needs JavaScript; the raw document is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</noscript>
    <div id="swagger-ui"></div>
    <script src="${assetBase}/swagger-ui-bundle.js"></script>
    <script src="${assetBase}/init.js"></script>
  </body>
</html>
`;
}

export function mountApiDocs<E extends object>(app: Hono<E>): void {
  const { dir, version } = swaggerUiDist();
  // The version in the path lets browsers cache assets for good and still pick up an upgrade.
  const assetBase = `/api/docs/assets/${version}`;
  const html = page(assetBase);
  const cache = new Map<string, Buffer>();

  app.get("/api/docs", (c) => {
    c.header("content-security-policy", DOCS_CSP);
    c.header("cache-control", "no-cache");
    return c.html(html);
  });
  app.get("/api/docs/", (c) => c.redirect("/api/docs", 301));
  app.get(`${assetBase}/init.js`, (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    c.header("cache-control", "public, max-age=31536000, immutable");
    return c.body(INIT_SCRIPT);
  });
  app.get(`${assetBase}/:name`, (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) return c.json({ code: "NOT_FOUND", message: `No route for ${c.req.path}` }, 404);
    let body = cache.get(asset.file);
    if (!body) {
      body = readFileSync(join(dir, asset.file));
      cache.set(asset.file, body);
    }
    c.header("content-type", asset.type);
    c.header("cache-control", "public, max-age=31536000, immutable");
    return c.body(new Uint8Array(body));
  });
}
