import { describe, expect, it } from "vitest";
import { ansiToSpans, stripAnsi, type Style } from "./ansi";

const ESC = "\x1b";

describe("ANSI colours in logs", () => {
  it("keeps plain text as one unstyled span", () => {
    expect(ansiToSpans("Compiling shop v0.1.0")).toEqual([{ text: "Compiling shop v0.1.0", classes: "", css: "" }]);
  });

  it("colours what cargo and npm print, and resets", () => {
    const spans = ansiToSpans(`${ESC}[1m${ESC}[32m   Compiling${ESC}[0m shop`);
    expect(spans).toEqual([
      { text: "   Compiling", classes: "ansi-fg-2 ansi-bold", css: "" },
      { text: " shop", classes: "", css: "" },
    ]);
  });

  it("knows bright colours, backgrounds, 256 colours and true colour", () => {
    expect(ansiToSpans(`${ESC}[91mE${ESC}[39m`)[0].classes).toBe("ansi-fg-9");
    expect(ansiToSpans(`${ESC}[44mB`)[0].classes).toBe("ansi-bg-4");
    expect(ansiToSpans(`${ESC}[38;5;196mR`)[0].css).toBe("color:rgb(255,0,0)");
    expect(ansiToSpans(`${ESC}[38;5;244mG`)[0].css).toBe("color:rgb(128,128,128)");
    expect(ansiToSpans(`${ESC}[48;2;10;20;30mT`)[0].css).toBe("background-color:rgb(10,20,30)");
    expect(ansiToSpans(`${ESC}[38;5;3mY`)[0].classes).toBe("ansi-fg-3");
  });

  it("drops escapes that are not colours instead of printing them", () => {
    const line = `${ESC}[2K${ESC}[1Gdownloading${ESC}]0;title${ESC}\\ 50%${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\`;
    expect(ansiToSpans(line).map((s) => s.text).join("")).toBe("downloading 50%link");
    expect(stripAnsi(`${ESC}[31mFAILED${ESC}[0m test`)).toBe("FAILED test");
  });

  it("carries a colour across lines when the caller keeps the state", () => {
    const state: Style = {};
    ansiToSpans(`${ESC}[33mwarning: first line`, state);
    expect(ansiToSpans("second line", state)[0].classes).toBe("ansi-fg-3");
    ansiToSpans(`${ESC}[m`, state);
    expect(ansiToSpans("third", state)[0].classes).toBe("");
  });

  it("swaps colours for inverse video, and turns bold off with 22", () => {
    expect(ansiToSpans(`${ESC}[7;31mX`)[0].classes).toBe("ansi-fg-default-bg ansi-bg-1");
    expect(ansiToSpans(`${ESC}[1mA${ESC}[22mB`)[1]).toEqual({ text: "B", classes: "", css: "" });
  });

  it("ignores malformed colour values", () => {
    expect(ansiToSpans(`${ESC}[38;5;999mX`)[0].css).toBe("");
    expect(ansiToSpans(`${ESC}[38;2;1;2mX`)[0].css).toBe("");
  });
});
