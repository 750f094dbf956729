import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../lib/schema-form/schema";
import { SchemaForm, useSchemaForm } from "./SchemaForm";

/** The form as a dialog uses it: collect() on submit, issues shown beside their fields. */
function Harness({ schema }: { schema: JsonSchema }) {
  const form = useSchemaForm(schema);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<string>("");
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        const result = form.collect();
        setErrors(Object.fromEntries(result.issues.map((issue) => [issue.path, issue.message])));
        if (result.issues.length === 0) setSent(JSON.stringify(result.value));
      }}
    >
      <SchemaForm state={form} errors={errors} />
      <button type="submit">Send</button>
      <output aria-label="sent">{sent}</output>
    </form>
  );
}

const schema: JsonSchema = {
  type: "object",
  properties: {
    city: { type: "string", description: "Where to look" },
    days: { type: "integer", minimum: 1, default: 3 },
    units: { enum: ["metric", "imperial"] },
    alerts: { type: "boolean" },
    tags: { type: "array", items: { type: "string" } },
    window: {
      type: "object",
      properties: { from: { type: "string" }, to: { type: "string" } },
      required: ["from"],
    },
  },
  required: ["city"],
};

describe("SchemaForm", () => {
  it("renders labelled fields with required markers, descriptions and defaults", () => {
    render(<Harness schema={schema} />);
    const city = screen.getByLabelText("City");
    expect(city.getAttribute("aria-required")).toBe("true");
    expect(screen.getByText("Where to look")).toBeTruthy();
    expect(screen.getByLabelText<HTMLInputElement>("Days").value).toBe("3");
    expect(screen.getByText(/Default: 3/)).toBeTruthy();
    expect(screen.getByRole("group", { name: "Window" })).toBeTruthy();
    expect(screen.getByLabelText("Units").tagName).toBe("SELECT");
  });

  it("shows issues beside fields and sends the typed value object", async () => {
    const user = userEvent.setup();
    render(<Harness schema={schema} />);
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(screen.getByText("Required")).toBeTruthy();
    expect(screen.getByLabelText("City").getAttribute("aria-invalid")).toBe("true");

    await user.type(screen.getByLabelText("City"), "Oslo");
    await user.selectOptions(screen.getByLabelText("Units"), "imperial");
    await user.selectOptions(screen.getByLabelText("Alerts"), "true");
    await user.click(screen.getByRole("button", { name: "Add tags item" }));
    await user.type(screen.getByLabelText("Tags 1"), "rain");
    await user.type(screen.getByLabelText("From"), "today");
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(JSON.parse(screen.getByLabelText("sent").textContent)).toEqual({
      city: "Oslo",
      days: 3,
      units: "imperial",
      alerts: true,
      tags: ["rain"],
      window: { from: "today" },
    });
  });

  it("round-trips through the raw JSON mode", async () => {
    const user = userEvent.setup();
    render(<Harness schema={schema} />);
    await user.type(screen.getByLabelText("City"), "Rome");
    await user.click(screen.getByRole("button", { name: "Raw JSON" }));
    const raw = screen.getByLabelText<HTMLTextAreaElement>("Arguments (JSON object)");
    expect(JSON.parse(raw.value)).toEqual({ city: "Rome", days: 3 });

    await user.clear(raw);
    await user.click(raw);
    await user.paste("{ nope");
    await user.click(screen.getByRole("button", { name: "Form" }));
    expect(screen.getByRole("alert").textContent).toMatch(/Fix the JSON/);

    await user.clear(raw);
    await user.click(raw);
    await user.paste('{"city": "Paris", "days": 5}');
    await user.click(screen.getByRole("button", { name: "Form" }));
    expect(screen.getByLabelText<HTMLInputElement>("City").value).toBe("Paris");
    expect(screen.getByLabelText<HTMLInputElement>("Days").value).toBe("5");
  });

  it("starts in JSON mode for schemas without fixed fields", async () => {
    const user = userEvent.setup();
    render(<Harness schema={{ type: "object", additionalProperties: true }} />);
    expect(screen.getByRole("button", { name: "Form" }).hasAttribute("disabled")).toBe(true);
    const raw = screen.getByLabelText("Arguments (JSON object)");
    await user.clear(raw);
    await user.click(raw);
    await user.paste('{"anything": [1, 2]}');
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(JSON.parse(screen.getByLabelText("sent").textContent)).toEqual({ anything: [1, 2] });
  });
});
