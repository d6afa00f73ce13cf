// ANSI SGR colours in build logs → styled spans. Only SGR (`ESC[…m`) is
// drawn; other escape sequences (cursor moves, erase line, OSC titles and
// links) are removed so they never show as garbage. The 16 basic colours
// become CSS classes (so each theme picks its own shades); 256-colour and
// true-colour values become inline colours.

export interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface Span {
  text: string;
  /** Space-separated CSS classes: `ansi-fg-1`, `ansi-bold`, … */
  classes: string;
  /** Inline CSS for 256-colour and RGB values. */
  css: string;
}

// CSI sequences (ESC [ params intermediates final), OSC (ESC ] … BEL or
// ESC \), and two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

/** The line without any escape sequence: what search matches against. */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPES, "");
}

/** xterm's 6×6×6 cube and grey ramp, for colours 16–255. */
function color256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return `c${n}`;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

/** Applies one SGR parameter list to `style` (which it returns, changed). */
export function applySgr(style: Style, params: string): Style {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) {
      for (const k of Object.keys(style) as (keyof Style)[]) delete style[k];
    } else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 7) style.inverse = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c === 27) style.inverse = false;
    else if (c >= 30 && c <= 37) style.fg = `c${c - 30}`;
    else if (c >= 90 && c <= 97) style.fg = `c${c - 90 + 8}`;
    else if (c >= 40 && c <= 47) style.bg = `c${c - 40}`;
    else if (c >= 100 && c <= 107) style.bg = `c${c - 100 + 8}`;
    else if (c === 39) delete style.fg;
    else if (c === 49) delete style.bg;
    else if (c === 38 || c === 48) {
      let value: string | undefined;
      if (codes[i + 1] === 5) {
        value = color256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2) {
        const [r, g, b] = codes.slice(i + 2, i + 5);
        if ([r, g, b].every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) value = `rgb(${r},${g},${b})`;
        i += 4;
      }
      if (value) {
        if (c === 38) style.fg = value;
        else style.bg = value;
      }
    }
    // Anything else (blink, fonts, …) is ignored.
  }
  return style;
}

function render(text: string, style: Style): Span {
  const classes: string[] = [];
  const css: string[] = [];
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg ?? "default-bg", fg ?? "default-fg"];
  for (const [kind, value] of [
    ["fg", fg],
    ["bg", bg],
  ] as const) {
    if (!value) continue;
    if (value.startsWith("c") || value.startsWith("default")) classes.push(`ansi-${kind}-${value.replace(/^c/, "")}`);
    else css.push(`${kind === "fg" ? "color" : "background-color"}:${value}`);
  }
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  return { text, classes: classes.join(" "), css: css.join(";") };
}

/**
 * Splits a line into spans of one style each. `state` is the style in
 * force at the line's start; it is updated to the style at its end, so a
 * caller may carry colours across lines.
 */
export function ansiToSpans(line: string, state: Style = {}): Span[] {
  const spans: Span[] = [];
  let last = 0;
  const push = (text: string) => {
    if (!text) return;
    const span = render(text, state);
    const prev = spans[spans.length - 1];
    if (prev && prev.classes === span.classes && prev.css === span.css) prev.text += text;
    else spans.push(span);
  };
  for (const m of line.matchAll(ESCAPES)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === "m" && m[0].startsWith("\x1b[")) applySgr(state, m[1]);
  }
  push(line.slice(last));
  return spans;
}
