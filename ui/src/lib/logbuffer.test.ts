import { describe, expect, it } from "vitest";
import { stripAnsi } from "./ansi";
import { LogBuffer, searchLines, type Page } from "./logbuffer";

/** A log file of `n` numbered lines, and pages of it like action_log's. */
function file(n: number) {
  const text = Array.from({ length: n }, (_, i) => `line ${i}\n`).join("");
  const page = (from: number, to: number): Page => ({ text: text.slice(from, to), offset: from, next_offset: to, size: text.length });
  const lineStart = (i: number) => text.indexOf(`line ${i}\n`);
  return { text, page, lineStart };
}

describe("the log viewer's buffer", () => {
  it("opens on the tail and pages backwards to the start", () => {
    const f = file(100);
    const b = new LogBuffer();
    b.reset(f.page(f.lineStart(90), f.text.length));
    expect(b.lines[0]).toBe("line 90");
    expect(b.hasEarlier).toBe(true);
    expect(b.prepend(f.page(f.lineStart(50), f.lineStart(90)))).toBe(40);
    expect(b.prepend(f.page(0, f.lineStart(50)))).toBe(50);
    expect(b.lines).toHaveLength(100);
    expect(b.lines.join("\n") + "\n").toBe(f.text);
    expect(b.hasEarlier).toBe(false);
  });

  it("follows live output, continuing a line the build had not finished", () => {
    const b = new LogBuffer();
    b.reset({ text: "step 1\nprogress: ", offset: 0, next_offset: 17, size: 17 });
    b.append({ text: "50%... done\nstep 2\n", offset: 17, next_offset: 36, size: 36 });
    expect(b.lines).toEqual(["step 1", "progress: 50%... done", "step 2"]);
    expect(b.end).toBe(36);
    expect(b.hasLater).toBe(false);
  });

  it("ignores a page that does not continue where it stopped", () => {
    const b = new LogBuffer();
    b.reset({ text: "a\n", offset: 0, next_offset: 2, size: 2 });
    expect(b.append({ text: "a\n", offset: 0, next_offset: 2, size: 2 })).toBe(0);
    expect(b.lines).toEqual(["a"]);
  });

  it("holds at most maxLines of a million-line log, dropping the oldest as output comes", () => {
    const b = new LogBuffer(10_000);
    b.reset({ text: "", offset: 0, next_offset: 0, size: 0 });
    let offset = 0;
    let dropped = 0;
    for (let chunk = 0; chunk < 100; chunk++) {
      const text = Array.from({ length: 10_000 }, (_, i) => `${chunk * 10_000 + i}\n`).join("");
      dropped += b.append({ text, offset, next_offset: offset + text.length, size: offset + text.length });
      offset += text.length;
      expect(b.lines.length).toBeLessThanOrEqual(10_000 + 2_000);
    }
    expect(b.lines[b.lines.length - 1]).toBe("999999");
    expect(dropped + b.lines.length).toBe(1_000_000);
    expect(b.hasEarlier).toBe(true);
  });

  it("drops the newest lines when paging far back, and can read them again", () => {
    const f = file(300);
    const b = new LogBuffer(100);
    b.reset(f.page(f.lineStart(200), f.text.length));
    b.prepend(f.page(f.lineStart(100), f.lineStart(200)));
    b.prepend(f.page(0, f.lineStart(100)));
    expect(b.lines.length).toBeLessThanOrEqual(200);
    expect(b.lines[0]).toBe("line 0");
    expect(b.hasLater).toBe(true);
    b.append(f.page(b.end, f.text.length));
    expect(b.lines[b.lines.length - 1]).toBe("line 299");
  });

  it("finds lines by their text, colours aside", () => {
    const lines = ["ok", "\x1b[31mFAILED\x1b[0m shop::checkout", "failed again"];
    expect(searchLines(lines, "failed", stripAnsi)).toEqual([1, 2]);
    expect(searchLines(lines, "", stripAnsi)).toEqual([]);
  });
});
