/**
 * docs/examples/flux-image-repository.yaml: valid for Flux's image reflector (its API schema, as the
 * @kubernetes-models/flux-cd package generates it from Flux's types), and naming what the prod stack
 * makes: the Secret its `pullSecrets.flux` writes, and a repository under its imagePrefix.
 * Covers: components/accounts/pullSecrets.ts (the Flux Secret).
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { IImageRepository } from "@kubernetes-models/flux-cd/image.toolkit.fluxcd.io/v1beta2/ImageRepository";
import { ImageRepository } from "@kubernetes-models/flux-cd/image.toolkit.fluxcd.io/v1beta2/ImageRepository";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FLUX_SECRET_NAME } from "../../components/accounts/pullSecrets";
import { FLUX_NAMESPACE } from "../../components/shared/facts";
import { committedSynthDir } from "../support/committedSynth";

const EXAMPLE = path.resolve(__dirname, "../../docs/examples/flux-image-repository.yaml");
const text = readFileSync(EXAMPLE, "utf8");

describe("Flux's ImageRepository example", () => {
    it("is the prod stack's: its Secret in Flux's namespace and a repository under the stack's imagePrefix", () => {
        const dir = committedSynthDir("prod");
        const outputs = JSON.parse(readFileSync(path.join(dir, "outputs.json"), "utf8")) as { imagePrefix: string };
        expect(existsSync(path.join(dir, "k8s", FLUX_NAMESPACE, `Secret-${FLUX_SECRET_NAME}.yaml`))).toBe(true);
        // Typed: a field Flux's type does not have fails the type-check.
        const expected: IImageRepository = {
            apiVersion: "image.toolkit.fluxcd.io/v1beta2",
            kind: "ImageRepository",
            metadata: { name: "app", namespace: FLUX_NAMESPACE },
            spec: { image: `${outputs.imagePrefix}/app`, interval: "5m", secretRef: { name: FLUX_SECRET_NAME } },
        };
        expect(parse(text)).toEqual(expected);
    });

    it("passes Flux's schema as written and with its commented certSecretRef in place", () => {
        const uncommented = text.replace(/^ {2}# (certSecretRef:| {2}name: registry-ca)$/gm, "  $1");
        expect(uncommented).not.toBe(text);
        const withCa = parse(uncommented) as IImageRepository;
        expect(withCa.spec?.certSecretRef).toEqual({ name: "registry-ca" });
        // The Secret the comment's kubectl line creates is the one the field names.
        expect(text).toContain("kubectl -n flux-system create secret generic registry-ca --from-file=ca.crt=ca.crt");
        for (const object of [parse(text), withCa]) expect(() => new ImageRepository(object).validate()).not.toThrow();
    });

    it("the schema refuses what Flux refuses (a wrong type, an unknown provider)", () => {
        const base = parse(text) as IImageRepository;
        for (const spec of [
            { ...base.spec, interval: 300 },
            { ...base.spec, provider: "registry" },
        ]) {
            expect(() => new ImageRepository({ ...base, spec } as never).validate()).toThrow();
        }
    });
});
