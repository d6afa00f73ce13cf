// A ticking "now" for durations of things still running. It is the page's
// clock, not a poll: nothing is asked of the engine when it ticks.

let now = $state(Date.now());
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** The current time, updated every second while someone uses it. */
export function useNow(): { readonly value: number } {
  return {
    get value() {
      return now;
    },
  };
}

/** Starts the ticking for a component; returns the function that stops it. */
export function tick(): () => void {
  users += 1;
  timer ??= setInterval(() => (now = Date.now()), 1000);
  return () => {
    users -= 1;
    if (users === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
