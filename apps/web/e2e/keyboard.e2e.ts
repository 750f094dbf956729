import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, browserSuite, newUser, register, RUN } from "./session";

/*
 * The console by keyboard alone (issue 19): from the page's first Tab to a dialog opened,
 * filled, submitted and dismissed without the mouse, focus always visible and returned where it
 * was when a dialog closes.
 */

const OWNER = newUser("Kay", "Board");
const suite = browserSuite();

/** The focused element's accessible text and whether its focus indicator shows. */
function focusState(page: Page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!(element instanceof HTMLElement)) return { text: "", visible: false };
    const style = getComputedStyle(element);
    const visible = style.outlineStyle !== "none" || style.boxShadow !== "none";
    const text = (element.getAttribute("aria-label") ?? element.textContent).trim();
    return { text, visible };
  });
}

/** Tabs forward until the focused element's text matches, checking every stop shows focus. */
async function tabTo(page: Page, text: RegExp, most = 60): Promise<void> {
  for (let step = 0; step < most; step++) {
    await page.keyboard.press("Tab");
    const state = await focusState(page);
    expect(state.visible, `focus not visible on "${state.text}"`).toBe(true);
    if (text.test(state.text)) return;
  }
  throw new Error(`Tab never reached ${String(text)}`);
}

describe("the console by keyboard", () => {
  it("opens, fills, submits and dismisses a dialog without the mouse, focus always visible", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Keys Co",
      slug: `keys-${RUN}`,
    });
    await page.goto(`/orgs/${org.id}/agents`);
    await page.getByRole("heading", { level: 1, name: "Agents" }).waitFor();

    await tabTo(page, /^New agent$/);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "New agent" });
    await dialog.waitFor();
    // The dialog's first field takes the focus, so typing goes there.
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe(
      await dialog.getByLabel("Name").getAttribute("id"),
    );
    await page.keyboard.type("Keyboard bot");
    // Escape dismisses without saving, and focus goes back to the button that opened it.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await expect(focusState(page)).resolves.toEqual({ text: "New agent", visible: true });

    // Again, submitted with Enter from the field.
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await page.keyboard.type("Keyboard bot");
    await expect(dialog.getByLabel("Name").inputValue()).resolves.toBe("Keyboard bot");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "detached" });
    // Created: the console opens the new agent's page.
    await page.getByRole("heading", { level: 1, name: "Keyboard bot" }).waitFor();
    expect(suite.errors).toEqual([]);
  });
});
