import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration } from "./format";

describe("formatDuration", () => {
  it("reads like a person would say it", () => {
    expect(formatDuration(350)).toBe("350 ms");
    expect(formatDuration(3500)).toBe("3.5 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(12 * 60_000)).toBe("12 min");
    expect(formatDuration(125 * 60_000)).toBe("2 h 5 min");
    expect(formatDuration(120 * 60_000)).toBe("2 h");
  });
});

describe("formatBytes", () => {
  it("says sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(42 * 1024 * 1024)).toBe("42 MiB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
  });
});
