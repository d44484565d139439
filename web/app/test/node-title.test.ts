import { describe, expect, it } from "vitest";
import { parseJob } from "../src/api";
import { describe as describeJob } from "../src/jobs";

describe("progress names the node", () => {
  it("by its title when the server gives one, else by its id", () => {
    const running = { id: "j", status: "running", percent: 50, step: 3, total_steps: 6, node: "5" };
    expect(describeJob(parseJob({ ...running, node_title: "KSampler" })).detail).toBe("Step 3 of 6 · KSampler");
    expect(describeJob(parseJob({ ...running, node_title: null })).detail).toBe("Step 3 of 6 · node 5");
    expect(describeJob(parseJob(running)).detail).toBe("Step 3 of 6 · node 5");
  });
});
