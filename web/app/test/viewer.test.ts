import { describe, expect, it } from "vitest";
import { parseHandoff } from "../src/viewer";

describe("the handoff to the generate form", () => {
  it("keeps what it knows and drops what is malformed", () => {
    expect(parseHandoff({ workflow: "w.json", values: { seed: 1 }, submit: true })).toEqual({ workflow: "w.json", values: { seed: 1 }, submit: true });
    expect(parseHandoff({ workflow: "w.json", values: "x", image: 3, submit: "yes" })).toEqual({ workflow: "w.json" });
    expect(parseHandoff({ values: {} })).toBeNull();
    expect(parseHandoff(null)).toBeNull();
  });
});
