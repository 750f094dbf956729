import http from "node:http";
import type { AddressInfo } from "node:net";

/*
 * The round-robin balancer of the replica tests (balancer.ts), in a module of its own without
 * vitest, so that `pnpm bench` (bench/relay.ts) puts the same one in front of its replicas.
 */

export interface RoutedRequest {
  method: string;
  path: string;
  /** Index of the replica the request was sent to. */
  replica: number;
}

export interface Balancer {
  url: string;
  /** Every request in arrival order with the replica it went to. */
  routed: RoutedRequest[];
  close: () => Promise<void>;
}

/**
 * A round-robin HTTP balancer: each request (each POST, each GET stream, each DELETE) goes to the
 * next target, whatever session it belongs to. Bodies and answers are streamed both ways, so an
 * SSE stream stays open through it; a client hanging up hangs up on the replica too.
 */
export async function startBalancer(targets: string[]): Promise<Balancer> {
  if (targets.length === 0) throw new Error("a balancer needs targets");
  const routed: RoutedRequest[] = [];
  let next = 0;
  const server = http.createServer((incoming, outgoing) => {
    const replica = next++ % targets.length;
    const target = new URL(incoming.url ?? "/", targets[replica]);
    routed.push({ method: incoming.method ?? "GET", path: target.pathname, replica });
    const forwarded = http.request(
      target,
      { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        // Streams (SSE) must reach the client as they are written, not when they end.
        outgoing.flushHeaders();
        answer.pipe(outgoing);
        answer.once("error", () => outgoing.destroy());
      },
    );
    forwarded.once("error", () => {
      if (outgoing.headersSent) outgoing.destroy();
      else outgoing.writeHead(502).end();
    });
    outgoing.once("close", () => {
      if (!outgoing.writableFinished) forwarded.destroy();
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routed,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
