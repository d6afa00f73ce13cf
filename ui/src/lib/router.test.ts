import { describe, expect, it } from "vitest";
import { href, parseRoute, targetHref, targetRoute } from "./router";

describe("the hash router", () => {
  it("opens on Pipelines, also when serve's token is still in the fragment", () => {
    expect(parseRoute("")).toEqual({ page: "pipelines" });
    expect(parseRoute("#/")).toEqual({ page: "pipelines" });
    expect(parseRoute("#token=abcdef0123456789")).toEqual({ page: "pipelines" });
  });

  it("reads each page", () => {
    expect(parseRoute("#/repositories")).toEqual({ page: "repositories" });
    expect(parseRoute("#/accounts")).toEqual({ page: "accounts" });
    expect(parseRoute("#/executions/5f2c")).toEqual({ page: "execution", id: "5f2c" });
  });

  it("reads an execution's selected action, names with spaces included", () => {
    const route = { page: "execution", id: "e1", stage: 2, action: "unit tests" } as const;
    expect(href(route)).toBe("#/executions/e1/2/unit%20tests");
    expect(parseRoute(href(route))).toEqual(route);
  });

  it("calls anything else not found rather than guessing", () => {
    expect(parseRoute("#/deployments")).toEqual({ page: "not-found", path: "/deployments" });
    expect(parseRoute("#/executions/e1/x/build").page).toBe("not-found");
    expect(parseRoute("#/executions/e1/1").page).toBe("not-found");
    expect(parseRoute("#/executions").page).toBe("not-found");
  });

  it("opens what a notification is about", () => {
    expect(targetHref({ kind: "execution", id: "5f2c" })).toBe("#/executions/5f2c");
    expect(targetRoute({ kind: "execution", id: "5f2c" })).toEqual({ page: "execution", id: "5f2c" });
    expect(targetHref({ kind: "environment", pipeline: "shop/release", environment: "production" })).toBe("#/environments");
  });

  it("round-trips every simple page", () => {
    for (const page of ["pipelines", "repositories", "accounts"] as const) {
      expect(parseRoute(href({ page }))).toEqual({ page });
    }
  });
});
