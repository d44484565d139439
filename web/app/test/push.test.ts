import { describe, expect, it } from "vitest";
import { keyBytes, parsePushPrefs } from "../src/push";

describe("push", () => {
  it("turns the server's base64url VAPID key into the 65 bytes of a P-256 point", () => {
    const key = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";
    const bytes = keyBytes(key);
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
    expect(bytes[bytes.length - 1]).toBe(0x43);
  });

  it("reads the preferences, both on unless the server says off", () => {
    expect(parsePushPrefs({ on_done: false, on_failed: true })).toEqual({ onDone: false, onFailed: true });
    expect(parsePushPrefs(null)).toEqual({ onDone: true, onFailed: true });
  });
});
