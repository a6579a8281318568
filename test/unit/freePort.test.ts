/**
 * The tests' free loopback ports (test/support/serverProcess.ts): a test that asks for several ports in a row
 * gets as many different ones, even where the kernel hands a port just released to the next bind.
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../support/serverProcess";

describe("freePort", () => {
    it("never hands this process the same port twice", async () => {
        const ports: number[] = [];
        for (let i = 0; i < 300; i++) ports.push(await freePort());
        expect(new Set(ports).size).toBe(ports.length);
    });

    it("hands out a port a listener can bind at once", async () => {
        const port = await freePort();
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, "127.0.0.1", resolve);
        });
        await new Promise<void>((resolve) => server.close(() => resolve()));
        expect(port).toBeGreaterThan(0);
    });
});
