/**
 * tools/secretMask.ts: how the synth shows a value the program marked secret. Its secret parts (mock
 * passwords, bcrypt hashes, private keys, placeholders, base64 that decodes to any of them) become
 * "[secret]"; every other character stays. And a Kubernetes Secret's `data` shows decoded in the synth.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { mockBcryptHash, mockPassword, SECRET, settle, startMockRuntime } from "../../tools/mockRuntime";
import { maskSecretText, maskSecretValue } from "../../tools/secretMask";
import { synthFilesOf } from "../../tools/synth";

const password = mockPassword("registry-accounts-pull", { length: 32 });
const hash = mockBcryptHash("registry-accounts-pull", { length: 32 });
const base64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
const base64url = (text: string | Buffer) => Buffer.from(text).toString("base64url");
const dockerConfig = (auth: string) => JSON.stringify({ auths: { "registry.example.com": { auth, username: "cluster-pull" } } });

describe("maskSecretText", () => {
    it.each<[string, string, string]>([
        ["a mock password", `password: "${password}"`, `password: "${SECRET}"`],
        ["a bcrypt hash of one (htpasswd)", `cluster-pull:${hash}\n`, `cluster-pull:${SECRET}\n`],
        ["Basic credentials", `Authorization = "Basic ${base64(`cluster-pull:${password}`)}"`, `Authorization = "Basic ${SECRET}"`],
        ["base64url", `token=${base64url(`\xff${password}`)}&x=1`, `token=${SECRET}&x=1`],
        [
            "base64 run on from a path, which shifts its alignment (the whole run)",
            `path=/v2/x${base64(`ab:${password}`)}`,
            `path=${SECRET}`,
        ],
        ["base64 of a placeholder", `"auth":"${base64("[secret]:[secret]")}"`, `"auth":"${SECRET}"`],
        ["base64 of a bcrypt hash", `users: ${base64(`u ${hash}\n`)}`, `users: ${SECRET}`],
        [
            "base64 of a docker config with base64 inside",
            `.dockerconfigjson: ${base64(dockerConfig(base64(`u:${password}`)))}`,
            `.dockerconfigjson: ${SECRET}`,
        ],
        [
            "a private key",
            "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nNzaC1r\n-----END OPENSSH PRIVATE KEY-----\nend",
            `key:\n${SECRET}\nend`,
        ],
    ])("masks %s", (_, text, shown) => {
        expect(maskSecretText(text)).toBe(shown);
    });

    it("keeps text that holds no secret as it is, long words and base64 of plain text included", () => {
        const text = [
            'server = "https://registry-dso.jmann.local"',
            '[host."https://registry-dso.jmann.local/v2/mirrors/docker.io"]',
            `  header = "${base64("no password in here, only words")}"`,
            "  hostKey = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheS3StorageVariants",
        ].join("\n");
        expect(maskSecretText(text)).toBe(text);
    });
});

describe("maskSecretValue (a value the program marked secret)", () => {
    it("shows a text with only its secret parts masked", () => {
        expect(maskSecretValue(`username: "cluster-pull"\npassword: "${password}"\n`)).toBe(
            `username: "cluster-pull"\npassword: "${SECRET}"\n`,
        );
    });

    it("shows compact JSON with only its secret parts masked", () => {
        expect(maskSecretValue(dockerConfig(base64(`cluster-pull:${password}`)))).toBe(dockerConfig(SECRET));
    });

    it("shows a structure with each value's secret parts masked", () => {
        expect(maskSecretValue({ username: "cluster-pull", password, port: 22, hosts: [`Basic ${base64(`u:${password}`)}`] })).toEqual({
            username: "cluster-pull",
            password: SECRET,
            port: 22,
            hosts: [`Basic ${SECRET}`],
        });
    });

    it.each<[string, unknown]>([
        ["a digest of secret content", "1acec744897f1d43e7f590a9df766a34e9e1e0772b446995f8198ba354775de3"],
        ["a password it cannot recognise", "hunter2"],
        ["a number", 5000],
        ["a boolean", true],
    ])("keeps %s marked secret whole", (_, value) => {
        expect(maskSecretValue(value)).toBe(SECRET);
    });
});

describe("a Kubernetes Secret's data in the synth", () => {
    it("shows text decoded under stringData with its secret parts masked, and keeps bytes that are not text base64", async () => {
        const rt = await startMockRuntime({ stack: "mask" });
        const binary = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
        await pulumi.runtime.runInPulumiStack(async () => {
            new k8s.core.v1.Secret("pull", {
                metadata: { name: "pull", namespace: "apps" },
                data: pulumi.secret({
                    ".dockerconfigjson": base64(dockerConfig(base64(`cluster-pull:${password}`))),
                    "password-bytes": base64(Buffer.concat([binary, Buffer.from(password)])),
                    "plain-bytes": base64(binary),
                }),
                stringData: { note: "kept" },
            });
            return {};
        });
        await settle();
        const files = synthFilesOf({ resources: rt.resources, outputs: {} });
        expect(YAML.parse(files.get("k8s/apps/Secret-pull.yaml")!)).toMatchObject({
            data: { "password-bytes": SECRET, "plain-bytes": base64(binary) },
            stringData: { ".dockerconfigjson": dockerConfig(SECRET), note: "kept" },
        });
    });
});
