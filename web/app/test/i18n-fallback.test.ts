// A catalogue that misses keys at run time (a stale chunk, say): English shows, never the key.
import { describe, expect, it, vi } from "vitest";
import { setLanguage, t } from "../src/i18n";

vi.mock("../src/i18n/ja", () => ({ default: { "nav.gallery": "ギャラリー", "job.images_other": "{count} 枚の画像" } }));
vi.mock("../src/i18n/ko", () => {
  throw new Error("chunk failed to load");
});

describe("a missing key or catalogue", () => {
  it("falls back to English, key by key", async () => {
    await setLanguage("ja");
    expect(t("nav.gallery")).toBe("ギャラリー");
    expect(t("nav.queue")).toBe("Queue");
    expect(t("preset.saved", { name: "x" })).toBe("Saved “x”");
    expect(t("job.images", { count: 2 })).toBe("2 枚の画像");
    expect(t("trash.restored", { count: 1 })).toBe("1 file restored");
  });

  it("shows English when a catalogue does not load", async () => {
    await setLanguage("ko");
    expect(t("nav.queue")).toBe("Queue");
  });
});
