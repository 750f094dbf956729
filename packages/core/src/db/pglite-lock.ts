import {
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";

/**
 * One process per embedded database folder. PGlite keeps the whole database in the memory of the
 * process that opened it and writes it back to the folder: a second process opening the same
 * folder sees a stale copy, and the two overwrite each other's files. A lock file beside the
 * folder names the process that holds it; a holder that is gone (kill -9, a crash, a reboot, a
 * new container reusing its pid) is detected and the lock taken over.
 */
export interface PgliteLockHolder {
  pid: number;
  hostname: string;
  /** Linux: the boot the process ran in, and its start time in clock ticks since that boot. */
  boot_id: string | null;
  start_ticks: string | null;
  started_at: string;
  command: string;
  /** Where the holder serves the platform, once it listens (used by `db:seed`). */
  url: string | null;
}

export class PgliteLockedError extends Error {
  override readonly name = "PgliteLockedError";
  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
    readonly holder: PgliteLockHolder | null,
  ) {
    super(lockedMessage(dataDir, lockPath, holder));
  }
}

export interface PgliteLock {
  readonly path: string;
  /** Records the URL the holder serves on, for other processes (`db:seed`) to find it. */
  advertise: (url: string) => void;
  release: () => void;
}

/** Lock files this process holds, so a second open of one folder in the same process is refused too. */
const heldHere = new Set<string>();

function lockedMessage(dataDir: string, lockPath: string, holder: PgliteLockHolder | null): string {
  if (!holder) {
    return (
      `The embedded database ${dataDir} is locked by ${lockPath}, which cannot be read. ` +
      `If no process uses this folder, delete that file and start again.`
    );
  }
  const where = holder.hostname === hostname() ? "" : ` on host ${holder.hostname}`;
  const serving = holder.url ? `, serving ${holder.url}` : "";
  return [
    `The embedded database ${dataDir} is in use by another process: pid ${holder.pid}${where} ` +
      `(${holder.command}, started ${holder.started_at}${serving}).`,
    "PGlite allows one process per folder. Stop that process first, or give this one another " +
      "folder (PGLITE_DIR), or use PostgreSQL (DATABASE_URL) to run several processes on one database." +
      (where
        ? ` If that process is gone, delete ${lockPath}.`
        : " `pnpm db:seed` seeds through the running server instead."),
  ].join("\n");
}

function lockPathOf(dataDir: string): string {
  return `${resolve(dataDir)}.lock`;
}

function linuxBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
function linuxStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the process that wrote the lock still runs; a holder on another host is assumed to. */
function holderAlive(holder: PgliteLockHolder, lockPath: string): boolean {
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return heldHere.has(lockPath);
  if (!processExists(holder.pid)) return false;
  const bootId = linuxBootId();
  if (holder.boot_id && bootId && holder.boot_id !== bootId) return false;
  const ticks = linuxStartTicks(holder.pid);
  return !(holder.start_ticks && ticks && holder.start_ticks !== ticks);
}

function readHolder(lockPath: string): { raw: string; holder: PgliteLockHolder | null } | null {
  let raw: string;
  try {
    raw = readFileSync(lockPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(raw) as Partial<PgliteLockHolder>;
    if (typeof parsed.pid !== "number" || typeof parsed.hostname !== "string") throw new Error();
    return { raw, holder: parsed as PgliteLockHolder };
  } catch {
    return { raw, holder: null };
  }
}

/** The live process holding the folder, or null when none does. */
export function pgliteLockHolder(dataDir: string): PgliteLockHolder | null {
  const lockPath = lockPathOf(dataDir);
  const current = readHolder(lockPath);
  if (!current?.holder) return null;
  return holderAlive(current.holder, lockPath) ? current.holder : null;
}

/** Writes the whole file under a temporary name first, so no reader ever sees half of it. */
function writeTemporary(lockPath: string, holder: PgliteLockHolder): string {
  const temporary = `${lockPath}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
  return temporary;
}

/**
 * Removes a dead holder's lock. Several processes may find the same dead holder at once: a
 * directory made atomically lets one of them at a time re-read the file and remove it only if it
 * is still the dead holder's (otherwise another process has just taken the lock).
 */
function removeStaleLock(lockPath: string, staleRaw: string): void {
  const guard = `${lockPath}.takeover`;
  try {
    mkdirSync(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // A takeover lasts microseconds: a guard older than a minute was left by a crash within one.
    if (Date.now() - statSync(guard).mtimeMs < 60_000) return;
    rmdirSync(guard);
    mkdirSync(guard);
  }
  try {
    if (readHolder(lockPath)?.raw === staleRaw) unlinkSync(lockPath);
  } finally {
    rmdirSync(guard);
  }
}

/**
 * Takes the folder's lock or throws PgliteLockedError naming the holder. Released by `release()`,
 * and at the latest when the process exits normally; after a kill -9 the next start takes it over.
 */
export function acquirePgliteLock(dataDir: string): PgliteLock {
  const lockPath = lockPathOf(dataDir);
  const holder: PgliteLockHolder = {
    pid: process.pid,
    hostname: hostname(),
    boot_id: linuxBootId(),
    start_ticks: linuxStartTicks(process.pid),
    started_at: new Date().toISOString(),
    // The script's last two path segments: `dist/main.js`, `scripts/seed.ts`.
    command: `node ${(process.argv[1] ?? "").split(/[\\/]/).slice(-2).join("/")}`,
    url: null,
  };
  const temporary = writeTemporary(lockPath, holder);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        // link() fails if the lock exists: of two processes starting at once, one gets it.
        linkSync(temporary, lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const current = readHolder(lockPath);
      if (current === null) continue;
      if (!current.holder || holderAlive(current.holder, lockPath) || attempt >= 3)
        throw new PgliteLockedError(resolve(dataDir), lockPath, current.holder);
      removeStaleLock(lockPath, current.raw);
    }
  } finally {
    unlinkSync(temporary);
  }
  heldHere.add(lockPath);

  const ours = () => readHolder(lockPath)?.holder?.pid === process.pid && heldHere.has(lockPath);
  const releaseOnExit = () => {
    release();
  };
  function release(): void {
    process.off("exit", releaseOnExit);
    if (!heldHere.has(lockPath)) return;
    try {
      if (ours()) unlinkSync(lockPath);
    } finally {
      heldHere.delete(lockPath);
    }
  }
  process.on("exit", releaseOnExit);
  return {
    path: lockPath,
    advertise: (url) => {
      if (!ours()) return;
      holder.url = url;
      renameSync(writeTemporary(lockPath, holder), lockPath);
    },
    release,
  };
}
