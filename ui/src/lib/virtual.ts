// Virtual scrolling maths for lists of fixed-height rows (log lines,
// pipelines): which rows to put in the DOM for a scroll position, so a
// list of a million rows costs a screenful of elements.

export interface Window {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Where the first rendered row sits, in px from the list's top. */
  offsetY: number;
  /** The height of the whole list, in px. */
  totalHeight: number;
}

/** Rows in view plus `overscan` rows each side, clamped to the list. */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 10,
): Window {
  const totalHeight = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0, offsetY: 0, totalHeight: 0 };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, totalHeight - viewportHeight));
  const start = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const end = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { start, end, offsetY: start * rowHeight, totalHeight };
}

/** Whether the view is at the bottom (within `slack` px): following output. */
export function atBottom(scrollTop: number, viewportHeight: number, scrollHeight: number, slack = 4): boolean {
  return scrollTop + viewportHeight >= scrollHeight - slack;
}

/**
 * The scrollTop that shows row `index`: unchanged when it is already in
 * view, else with the row in the middle of the viewport.
 */
export function scrollToRow(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): number {
  const top = index * rowHeight;
  if (top >= scrollTop && top + rowHeight <= scrollTop + viewportHeight) return scrollTop;
  return Math.max(0, top - Math.floor((viewportHeight - rowHeight) / 2));
}
