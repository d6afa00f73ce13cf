import { describe, expect, it } from "vitest";
import type { Notification } from "./bindings";
import { MAX_TOASTS, addToast, removeToast, toastLifetime } from "./toasts";

const n = (title: string): Notification => ({ title, body: "", level: "info", target: null });

describe("toasts", () => {
  it("keep the newest few, and drop one by id", () => {
    let list = [1, 2, 3, 4].reduce((l, id) => addToast(l, { id, notification: n(`t${id}`) }), [] as ReturnType<typeof addToast>);
    expect(list.map((t) => t.id)).toEqual([2, 3, 4]);
    expect(list).toHaveLength(MAX_TOASTS);
    list = removeToast(list, 3);
    expect(list.map((t) => t.id)).toEqual([2, 4]);
  });
  it("stay longer for failures and warnings", () => {
    expect(toastLifetime("failure")).toBeGreaterThan(toastLifetime("info"));
    expect(toastLifetime("warning")).toBeGreaterThan(toastLifetime("success"));
  });
});
