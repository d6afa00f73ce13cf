// The lines of one action's log that the viewer holds: a window over the
// log file, grown by pages (action_log) at either end and trimmed at the
// other past `maxLines`, so memory stays bounded however long the log is.
// Pages start and end on line boundaries (the server sees to it), except
// the file's last line while it is still being written: that line stays
// open and the next page continues it.

export interface Page {
  text: string;
  offset: number;
  next_offset: number;
  size: number;
}

interface Chunk {
  /** Byte range of the file this chunk holds. */
  start: number;
  end: number;
  /** How many entries of `lines` it holds. */
  count: number;
}

/** Lines a viewer keeps by default: ~20 MB of typical build output. */
export const MAX_LINES = 200_000;

export class LogBuffer {
  lines: string[] = [];
  private chunks: Chunk[] = [];
  /** The file's last line has no newline yet; the next page continues it. */
  private open = false;
  /** The file's size when last read. */
  size = 0;

  constructor(readonly maxLines = MAX_LINES) {}

  /** Byte offset of the first line held. */
  get start(): number {
    return this.chunks[0]?.start ?? 0;
  }
  /** Byte offset just past the last line held. */
  get end(): number {
    return this.chunks[this.chunks.length - 1]?.end ?? 0;
  }
  /** Earlier output exists that is not held. */
  get hasEarlier(): boolean {
    return this.start > 0;
  }
  /** Later output exists (as of the last read) that is not held. */
  get hasLater(): boolean {
    return this.end < this.size;
  }

  /** Replaces everything with `page` (the tail, on opening). */
  reset(page: Page): void {
    this.lines = [];
    this.chunks = [];
    this.open = false;
    this.size = page.size;
    this.append(page);
  }

  /**
   * Adds a page that continues at `end`; returns how many lines were
   * dropped from the top to stay under `maxLines` (the viewer moves its
   * scroll position up by as many rows).
   */
  append(page: Page): number {
    this.size = Math.max(this.size, page.size);
    if (page.offset !== this.end && this.chunks.length > 0) return 0; // stale or overlapping: ignore
    if (page.text === "") {
      if (this.chunks.length === 0) this.chunks.push({ start: page.offset, end: page.next_offset, count: 0 });
      return 0;
    }
    const parts = page.text.split("\n");
    const closed = parts[parts.length - 1] === "";
    if (closed) parts.pop();
    let added = parts.length;
    if (this.open && this.lines.length > 0 && parts.length > 0) {
      this.lines[this.lines.length - 1] += parts.shift();
      added -= 1;
    }
    for (const p of parts) this.lines.push(p);
    this.open = !closed;
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.count + added < 2_000 && page.offset === last.end) {
      // Small live pages join the last chunk, so trimming stays coarse.
      last.end = page.next_offset;
      last.count += added;
    } else {
      this.chunks.push({ start: page.offset, end: page.next_offset, count: added });
    }
    return this.trimTop();
  }

  /** Adds a page that ends at `start`; returns how many lines were added. */
  prepend(page: Page): number {
    this.size = Math.max(this.size, page.size);
    if (page.next_offset !== this.start || page.text === "") return 0;
    const parts = page.text.split("\n");
    if (parts[parts.length - 1] === "") parts.pop();
    this.lines = parts.concat(this.lines);
    this.chunks.unshift({ start: page.offset, end: page.next_offset, count: parts.length });
    this.trimBottom();
    return parts.length;
  }

  private trimTop(): number {
    let dropped = 0;
    while (this.lines.length - dropped > this.maxLines && this.chunks.length > 1) {
      dropped += this.chunks.shift()!.count;
    }
    if (dropped) this.lines = this.lines.slice(dropped);
    return dropped;
  }

  private trimBottom(): void {
    let dropped = 0;
    while (this.lines.length - dropped > this.maxLines && this.chunks.length > 1) {
      dropped += this.chunks.pop()!.count;
    }
    if (dropped) {
      this.lines = this.lines.slice(0, this.lines.length - dropped);
      this.open = false;
    }
  }
}

/** Indices of the lines containing `query` (case-insensitive), in order. */
export function searchLines(lines: readonly string[], query: string, plain: (line: string) => string): number[] {
  const q = query.toLowerCase();
  if (!q) return [];
  const hits: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (plain(lines[i]).toLowerCase().includes(q)) hits.push(i);
  }
  return hits;
}
