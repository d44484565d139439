// Phase 2's pieces in a language other than English: the screens' helpers, a workflow's own words, api.ts's errors.
import { afterAll, describe, expect, it } from "vitest";
import { errorFrom, parseSeries } from "../src/api";
import { setLanguage, t } from "../src/i18n";
import { fieldLabel, ownWord } from "../src/labels";
import { seriesProgress } from "../src/screens/Queue";
import { missingModel } from "../src/screens/Workflows";

const series = (times: number | "until_stopped", completed: number) =>
  parseSeries({ id: "s", username: "ann", workflow: "w.json", times, submitted: completed + 1, completed, current_job: null, status: "running", reason: null, created_at: 1 });

describe("the screens in Japanese", () => {
  afterAll(() => setLanguage("en"));

  it("shows series progress, model words, API errors and plurals in the language", async () => {
    await setLanguage("ja");
    const s20 = series(20, 6);
    const forever = series("until_stopped", 12);
    if (!s20 || !forever) throw new Error("series did not parse");
    expect(seriesProgress(s20)).toBe("7 / 20");
    expect(seriesProgress(forever)).toBe("繰り返し中 · 12 件完了");
    expect(missingModel("checkpoints/v1-5.safetensors")).toEqual({ name: "v1-5", hint: "チェックポイント" });
    expect(errorFrom(0, null).message).toBe("サーバーが応答しませんでした。接続を確認してください。");
    expect(errorFrom(502, null).message).toBe("サーバーが 502 を返しました。");
    expect(errorFrom(400, { error: "bad value" }).message).toBe("bad value"); // the server's own text, as sent
    expect(t("gallery.deleted", { count: 3 })).toBe("3 枚の画像を削除しました");
  });

  it("reads a workflow's label or group in the language only when it is the catalogue's English word", async () => {
    await setLanguage("ja");
    const p = (name: string, label: string) => ({ name, label });
    expect(fieldLabel(p("steps", "Steps"))).toBe("ステップ数");
    expect(fieldLabel(p("prompt", "prompt"))).toBe("プロンプト");
    expect(fieldLabel(p("steps", "Detail passes"))).toBe("Detail passes"); // the author's own words stay
    expect(ownWord("Prompt")).toBe("プロンプト");
    expect(ownWord("Sampling")).toBe("Sampling");
  });

  it("is English again after a switch back", async () => {
    await setLanguage("en");
    expect(seriesProgress(series("until_stopped", 2) ?? (() => { throw new Error(); })())).toBe("repeating · 2 done");
    expect(errorFrom(0, null).message).toBe("The server did not answer. Check the connection.");
  });
});
