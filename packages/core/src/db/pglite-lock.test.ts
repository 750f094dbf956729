import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquirePgliteLock, pgliteLockHolder, PgliteLockedError } from "./pglite-lock";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function folder(): string {
  return join(mkdtempSync(join(tmpdir(), "mcpa-lock-")), "pglite");
}

/** Another live process, and what its lock entry would say. */
async function otherProcess(): Promise<{ pid: number; entry: Record<string, unknown> }> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve) => child.once("spawn", resolve));
  const pid = child.pid ?? 0;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return {
    pid,
    entry: {
      pid,
      hostname: hostname(),
      boot_id: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      start_ticks: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19],
      started_at: "2026-12-01T20:00:00.000Z",
      command: "node dist/main.js",
      url: "http://127.0.0.1:3000",
    },
  };
}

/** A process that has exited: its pid is free. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid ?? 0;
}

describe.runIf(process.platform === "linux")("one process per PGlite folder", () => {
  it("refuses a folder a live process holds, naming it and what to do", async () => {
    const dir = folder();
    const other = await otherProcess();
    writeFileSync(`${dir}.lock`, JSON.stringify(other.entry));

    let refusal: unknown;
    try {
      acquirePgliteLock(dir);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(PgliteLockedError);
    const message = (refusal as Error).message;
    expect(message).toContain(`pid ${other.pid}`);
    expect(message).toContain("node dist/main.js");
    expect(message).toContain("serving http://127.0.0.1:3000");
    expect(message).toMatch(/Stop that process first.*PGLITE_DIR.*DATABASE_URL/s);
    expect(pgliteLockHolder(dir)).toMatchObject({ pid: other.pid, url: "http://127.0.0.1:3000" });
  });

  it("refuses a second open in the same process, and frees the folder on release", () => {
    const dir = folder();
    const lock = acquirePgliteLock(dir);
    expect(() => acquirePgliteLock(dir)).toThrow(`pid ${process.pid}`);
    lock.advertise("http://127.0.0.1:4321");
    expect(pgliteLockHolder(dir)).toMatchObject({ pid: process.pid, url: "http://127.0.0.1:4321" });
    lock.release();
    expect(existsSync(`${dir}.lock`)).toBe(false);
    expect(pgliteLockHolder(dir)).toBeNull();
    acquirePgliteLock(dir).release();
  });

  it("takes over the lock of a process that died (kill -9)", async () => {
    const dir = folder();
    const { entry } = await otherProcess();
    writeFileSync(`${dir}.lock`, JSON.stringify({ ...entry, pid: await deadPid() }));
    expect(pgliteLockHolder(dir)).toBeNull();
    const lock = acquirePgliteLock(dir);
    expect(JSON.parse(readFileSync(`${dir}.lock`, "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it("takes over when the pid now belongs to another process (reused after a restart)", async () => {
    const dir = folder();
    const other = await otherProcess();
    writeFileSync(`${dir}.lock`, JSON.stringify({ ...other.entry, start_ticks: "1" }));
    const lock = acquirePgliteLock(dir);
    lock.release();
    // A previous run of a container, where the server had this very pid.
    writeFileSync(`${dir}.lock`, JSON.stringify({ ...other.entry, pid: process.pid }));
    acquirePgliteLock(dir).release();
  });

  it("refuses a lock file it cannot read, saying to delete it if unused", () => {
    const dir = folder();
    writeFileSync(`${dir}.lock`, "not json");
    expect(() => acquirePgliteLock(dir)).toThrow(/cannot be read.*delete that file/s);
  });

  it("assumes a holder on another host is alive", async () => {
    const dir = folder();
    const { entry } = await otherProcess();
    writeFileSync(`${dir}.lock`, JSON.stringify({ ...entry, hostname: "elsewhere" }));
    expect(() => acquirePgliteLock(dir)).toThrow(/on host elsewhere.*delete .*\.lock/s);
  });
});
