import { describe, expect, it } from "vitest";
import { getPrefs, resolveTheme } from "../src/settings";

describe("theme", () => {
  it("follows the system by default", () => {
    expect(getPrefs().theme).toBe("system");
    expect(resolveTheme("system", true)).toBe("light");
    expect(resolveTheme("system", false)).toBe("dark");
    expect(resolveTheme("dark", true)).toBe("dark");
    expect(resolveTheme("light", false)).toBe("light");
  });
});
