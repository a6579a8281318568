/**
 * components/stack/secret.ts: a secret the wiring needs is the one the loader resolved, and one it did
 * not load is a defect named with the command that sets it.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { StackConfig } from "../../components/config";
import { secret } from "../../components/stack/secret";

/** A stack config with only the resolved secrets: all that `secret` reads. */
const configWith = (secrets: StackConfig["secrets"]) => ({ secrets }) as StackConfig;

describe("secret", () => {
    it("is the Output the loader resolved", () => {
        const value = pulumi.secret("resolved");
        expect(secret(configWith({ backupRepositoryPassword: value }), "backupRepositoryPassword")).toBe(value);
    });

    it("refuses a secret that was not loaded, naming the command that sets it", () => {
        expect(() => secret(configWith({}), "backupRepositoryPassword")).toThrow(
            "dso-registry:backupRepositoryPassword is needed but was not loaded; set it with: pulumi config set --secret dso-registry:backupRepositoryPassword",
        );
    });
});
