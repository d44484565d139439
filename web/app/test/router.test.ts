import { describe, expect, it } from "vitest";
import { nextPath } from "../src/app";
import { appendToken, tokenAt, insertTag } from "../src/components/PromptBox";
import { hrefFor, parseRoute } from "../src/router";
import { prettyName } from "../src/screens/Workflows";

describe("routes", () => {
  it("parse and print the same", () => {
    for (const path of ["/cozygen/", "/cozygen/gallery", "/cozygen/queue", "/cozygen/history", "/cozygen/settings", "/cozygen/generate/my%20flow.json"]) {
      expect(hrefFor(parseRoute(path))).toBe(path);
    }
    expect(parseRoute("/cozygen/generate/a.json")).toEqual({ screen: "generate", workflow: "a.json" });
    expect(parseRoute("/cozygen/gallery", "?subfolder=CozyGen")).toEqual({ screen: "gallery", subfolder: "CozyGen" });
    expect(parseRoute("/cozygen")).toEqual({ screen: "workflows" });
    expect(parseRoute("/cozygen/nowhere")).toEqual({ screen: "workflows" });
  });

  it("only follow ?next= to this server", () => {
    expect(nextPath("?next=%2F")).toBe("/");
    expect(nextPath("?next=//evil.example")).toBeNull();
    expect(nextPath("?next=https://evil.example")).toBeNull();
    expect(nextPath("?next=/\\evil")).toBeNull();
    expect(nextPath("")).toBeNull();
  });
});

describe("tag insertion", () => {
  it("finds the comma-separated word at the caret", () => {
    expect(tokenAt("a cat, blue sk", 14)).toEqual({ start: 7, end: 14, word: "blue sk" });
    expect(tokenAt("red", 3).word).toBe("red");
  });
  it("replaces it with the tag", () => {
    expect(insertTag("a cat, blue sk", 14, "blue sky")).toEqual({ text: "a cat, blue sky, ", caret: 17 });
    expect(insertTag("lan, a cat", 3, "landscape").text).toBe("landscape, a cat");
  });
  it("title workflows by their file names", () => {
    expect(prettyName("cozygen_procedural_form.json")).toBe("CozyGen procedural form");
    expect(prettyName("sdxl_txt2img.json")).toBe("SDXL txt2img");
    expect(prettyName("sd15-img2img.json")).toBe("SD 1.5 img2img");
    expect(prettyName("my portrait.json")).toBe("My portrait");
  });
  it("append wildcards and aliases after a comma", () => {
    expect(appendToken("", "__subject__")).toBe("__subject__");
    expect(appendToken("a cat", "__place__")).toBe("a cat, __place__");
    expect(appendToken("a cat, ", "$hero$")).toBe("a cat, $hero$");
  });
});
