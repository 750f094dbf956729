import { describe, expect, it } from "vitest";
import { currentTime, TimeZoneError } from "./time";

const instant = new Date("2025-01-31T13:05:09.000Z");

describe("currentTime", () => {
  it("formats UTC", () => {
    expect(currentTime("UTC", instant)).toEqual({
      timezone: "UTC",
      utc: "2025-01-31T13:05:09.000Z",
      local: "2025-01-31T13:05:09+00:00",
      utc_offset: "+00:00",
      weekday: "Friday",
      unix_ms: instant.getTime(),
    });
  });

  it("applies zone offsets, including half hours and daylight saving time", () => {
    expect(currentTime("Europe/Paris", instant).local).toBe("2025-01-31T14:05:09+01:00");
    expect(currentTime("Asia/Kolkata", instant).local).toBe("2025-01-31T18:35:09+05:30");
    expect(currentTime("America/New_York", new Date("2025-07-04T16:00:00Z")).local).toBe(
      "2025-07-04T12:00:00-04:00",
    );
    expect(currentTime("Pacific/Kiritimati", instant).weekday).toBe("Saturday");
  });

  it("rejects unknown zones", () => {
    expect(() => currentTime("Mars/Olympus_Mons", instant)).toThrow(TimeZoneError);
    expect(() => currentTime("Mars/Olympus_Mons", instant)).toThrow(
      'Unknown time zone "Mars/Olympus_Mons"',
    );
  });
});
