import { describe, expect, it } from "vitest";
import { demoRequest, demoUrl, hasDemo, parsePort } from "./demo";

describe("parsePort", () => {
  it("takes whole numbers from 1 to 65535, trimmed", () => {
    expect(parsePort(" 18080 ", "staging")).toBe(18080);
    expect(parsePort("1", "staging")).toBe(1);
    expect(parsePort("65535", "staging")).toBe(65535);
  });
  it("says what is wrong otherwise, naming the field", () => {
    expect(parsePort("", "staging")).toEqual({ error: "The staging port must be a number from 1 to 65535." });
    expect(parsePort("80a", "production")).toEqual({ error: "The production port must be a number from 1 to 65535." });
    expect(parsePort("-1", "staging")).toHaveProperty("error");
    expect(parsePort("0", "staging")).toEqual({ error: "The staging port must be from 1 to 65535, not 0." });
    expect(parsePort("70000", "staging")).toHaveProperty("error");
  });
});

describe("demoRequest", () => {
  it("builds the request from the two fields", () => {
    expect(demoRequest("18080", "18081")).toEqual({ request: { staging_port: 18080, production_port: 18081 } });
  });
  it("reports the first bad field, and one port used twice", () => {
    expect(demoRequest("x", "y")).toEqual({ error: "The staging port must be a number from 1 to 65535." });
    expect(demoRequest("18080", "")).toEqual({ error: "The production port must be a number from 1 to 65535." });
    expect(demoRequest("9000", "9000")).toEqual({ error: "Staging and production need two different ports (both are 9000)." });
  });
});

describe("demoUrl and hasDemo", () => {
  it("point at the loopback router and find the demo's pipelines", () => {
    expect(demoUrl(18081)).toBe("http://127.0.0.1:18081/");
    expect(hasDemo(["web/release", "demo-shop/release"])).toBe(true);
    expect(hasDemo(["demo-shopper/release", "web/demo-shop"])).toBe(false);
  });
});
