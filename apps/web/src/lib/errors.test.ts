import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { argumentErrors, errorInfo, fieldErrorsOf, validate } from "./errors";

function apiError(data: unknown, message = "Invalid input"): TRPCClientError<never> {
  return new TRPCClientError(message, {
    result: { error: { code: -32600, message, data } } as never,
  });
}

describe("errors", () => {
  it("reads the API's error data: code, status, issues and request id", () => {
    const error = apiError({
      code: "BAD_REQUEST",
      httpStatus: 400,
      issues: [
        { path: "url", message: "Must be an http:// or https:// URL" },
        { path: "url", message: "second message is ignored" },
        { path: 7, message: "malformed issues are dropped" },
      ],
      request_id: "req-1",
    });
    expect(errorInfo(error)).toEqual({
      message: "Invalid input",
      code: "BAD_REQUEST",
      status: 400,
      issues: [
        { path: "url", message: "Must be an http:// or https:// URL" },
        { path: "url", message: "second message is ignored" },
      ],
      policies: [],
      requestId: "req-1",
    });
    expect(fieldErrorsOf(error)).toEqual({ url: "Must be an http:// or https:// URL" });
  });

  it("reads the policies a refused delete would remove, dropping malformed entries", () => {
    const error = apiError(
      {
        code: "CONFLICT",
        httpStatus: 409,
        policies: [{ id: "p1", name: "no-deploy-friday" }, { id: 2 }, null],
      },
      "This agent is used by policy",
    );
    expect(errorInfo(error).policies).toEqual([{ id: "p1", name: "no-deploy-friday" }]);
  });

  it("explains a request that never reached the API", () => {
    const info = errorInfo(new TRPCClientError("Failed to fetch"));
    expect(info.code).toBeNull();
    expect(info.message).toMatch(/Cannot reach the server/);
  });

  it("validates with a contract and keys messages by dotted path", () => {
    const schema = z.object({
      name: z.string().min(1, "Must not be empty"),
      limit: z.object({ max: z.number().min(1, "At least 1") }),
    });
    expect(validate(schema, { name: "", limit: { max: 0 } })).toEqual({
      ok: false,
      errors: { name: "Must not be empty", "limit.max": "At least 1" },
    });
    expect(validate(schema, { name: "a", limit: { max: 2 } })).toEqual({
      ok: true,
      data: { name: "a", limit: { max: 2 } },
    });
  });

  it("maps tool argument issues from tRPC paths and JSON pointers to form paths", () => {
    expect(
      argumentErrors([
        { path: "input.city", message: "a" },
        { path: "/window/from", message: "b" },
        { path: "input", message: "c" },
      ]),
    ).toEqual({ city: "a", "window.from": "b", "": "c" });
  });
});
