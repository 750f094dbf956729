export class TimeZoneError extends Error {
  override readonly name = "TimeZoneError";
}

export interface CurrentTime {
  timezone: string;
  /** The instant in UTC, ISO 8601. */
  utc: string;
  /** Wall-clock time in the zone with its offset, ISO 8601 (e.g. 2025-01-31T14:05:09+01:00). */
  local: string;
  utc_offset: string;
  weekday: string;
  unix_ms: number;
}

function partsIn(timeZone: string, date: Date): Record<string, string> {
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "long",
      timeZoneName: "longOffset",
    });
  } catch {
    throw new TimeZoneError(
      `Unknown time zone "${timeZone}"; use an IANA name such as "Europe/Paris"`,
    );
  }
  return Object.fromEntries(formatter.formatToParts(date).map((part) => [part.type, part.value]));
}

/** The current time in an IANA time zone such as "America/New_York". */
export function currentTime(timeZone = "UTC", now = new Date()): CurrentTime {
  const parts = partsIn(timeZone, now);
  // "GMT" alone means a zero offset; otherwise the part reads like "GMT+05:30".
  const offset = (parts.timeZoneName ?? "GMT").replace(/^GMT/, "") || "+00:00";
  const local = `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
  return {
    timezone: new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone,
    utc: now.toISOString(),
    local,
    utc_offset: offset,
    weekday: parts.weekday ?? "",
    unix_ms: now.getTime(),
  };
}
