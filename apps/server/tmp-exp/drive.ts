import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
function start(args: string[]): Promise<string> {
  const c = spawn(process.execPath, ["--import", "tsx", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.on("exit", () => c.kill());
  return new Promise((r) =>
    createInterface({ input: c.stdout! }).once("line", (l) => r(JSON.parse(l).url)),
  );
}
const up = await start(["../bench/upstream.ts"]);
const raw = await start(["proxy.ts", up, "raw"]);
const hono = await start(["proxy.ts", up, "hono"]);
const honoNolog = await start(["proxy.ts", up, "hono-nolog"]);
const honoRaw = await start(["proxy.ts", up, "hono-rawbody"]);
const lean = await start(["proxy.ts", up, "lean"]);
async function run(url: string, conc: number, n: number) {
  const clients = await Promise.all(
    Array.from({ length: conc }, async () => {
      const c = new Client({ name: "b", version: "1" });
      await c.connect(new StreamableHTTPClientTransport(new URL(url)));
      return c;
    }),
  );
  const lat: number[] = [];
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (left-- > 0) {
        const s = performance.now();
        await c.callTool({ name: "echo", arguments: { text: "hi" } });
        lat.push(performance.now() - s);
      }
    }),
  );
  const el = performance.now() - t0;
  lat.sort((a, b) => a - b);
  await Promise.all(clients.map((c) => c.close()));
  return `p50 ${lat[Math.floor(lat.length / 2)]!.toFixed(2)} calls/s ${Math.round((n / el) * 1000)}`;
}
for (const conc of [1])
  for (let round = 0; round < 2; round++)
    for (const [name, url] of [
      ["direct", up],
      ["hono", hono],
      ["hono-nolog", honoNolog],
      ["hono-raw", honoRaw],
      ["lean", lean],
    ] as const) {
      await run(url, conc, 300);
      console.log(conc, name, await run(url, conc, 2000));
    }
process.exit(0);
