import { describe, expect, it } from "vitest";
import { parseSeries } from "../src/api";

describe("series", () => {
  const wire = {
    id: "s1", username: "ann", workflow: "form.json", times: 20, submitted: 8, completed: 7,
    current_job: "j8", status: "running", reason: null, created_at: 5,
  };

  it("reads a series of N times and one until stopped", () => {
    expect(parseSeries(wire)).toEqual({
      id: "s1", username: "ann", workflow: "form.json", times: 20, submitted: 8, completed: 7,
      currentJob: "j8", status: "running", reason: null, createdAt: 5,
    });
    expect(parseSeries({ ...wire, times: "until_stopped", status: "stopped", reason: "stopped by ann" })).toMatchObject({
      times: "until_stopped", status: "stopped", reason: "stopped by ann",
    });
  });

  it("refuses what the server does not send", () => {
    for (const bad of [null, {}, { ...wire, id: "" }, { ...wire, times: "forever" }, { ...wire, status: "paused" }]) {
      expect(parseSeries(bad)).toBeNull();
    }
  });
});
