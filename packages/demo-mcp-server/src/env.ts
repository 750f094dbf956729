/** Settings for running the demo server standalone (src/http.ts). */
export interface DemoServerEnv {
  port: number;
  host: string;
}

export function readDemoServerEnv(env: NodeJS.ProcessEnv = process.env): DemoServerEnv {
  const rawPort = env.PORT ?? "3001";
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be an integer between 0 and 65535, got "${rawPort}"`);
  }
  return { port, host: env.HOST ?? "127.0.0.1" };
}
