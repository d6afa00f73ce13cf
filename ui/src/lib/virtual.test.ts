import { describe, expect, it } from "vitest";
import { atBottom, scrollToRow, visibleWindow } from "./virtual";

describe("virtual window", () => {
  it("renders a screenful plus overscan out of a million rows", () => {
    const w = visibleWindow(18_000, 540, 18, 1_000_000, 10);
    expect(w).toEqual({ start: 990, end: 1040, offsetY: 990 * 18, totalHeight: 18_000_000 });
    expect(w.end - w.start).toBeLessThan(100);
  });

  it("clamps at the top and at the bottom", () => {
    expect(visibleWindow(-50, 100, 10, 1000, 5)).toMatchObject({ start: 0, end: 15 });
    const bottom = visibleWindow(1e9, 100, 10, 1000, 5);
    expect(bottom).toMatchObject({ start: 985, end: 1000 });
  });

  it("renders nothing for an empty list", () => {
    expect(visibleWindow(0, 500, 18, 0)).toEqual({ start: 0, end: 0, offsetY: 0, totalHeight: 0 });
  });

  it("knows when the view follows the end", () => {
    expect(atBottom(900, 100, 1000)).toBe(true);
    expect(atBottom(897, 100, 1000)).toBe(true);
    expect(atBottom(800, 100, 1000)).toBe(false);
  });

  it("scrolls a search hit into the middle, or not at all when it is in view", () => {
    expect(scrollToRow(10, 10, 50, 100)).toBe(50);
    expect(scrollToRow(500, 10, 0, 100)).toBe(5000 - 45);
    expect(scrollToRow(0, 10, 300, 100)).toBe(0);
  });
});
