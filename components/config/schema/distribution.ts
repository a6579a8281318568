/**
 * Key `registry.distributionConfig`: the one escape hatch into Distribution's config.yml. The offered
 * keys are typed here, to what the renderer takes (`DistributionSettings`; the wiring passes the parsed
 * value on, so the compiler holds the two together); the program's own keys and any other key are refused by the rule in
 * ../../shared/distributionSettings.ts, which names the stack setting to use instead (Distribution itself
 * would ignore an unknown key without a word).
 */
import { z } from "zod";
import { distributionSettingProblems } from "../../shared/distributionSettings";

/** A Go duration as Distribution parses it ("500ms", "5s", "1m30s"). */
const duration = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, { error: 'must be a duration such as "5s", "500ms" or "1m30s"' });

/** Header name → its values; which names are refused is the shared rule's. */
const headers = z.record(z.string(), z.array(z.string()).min(1));

/** A regular expression Distribution matches URLs with (Go's syntax; JavaScript's check catches what both refuse). */
const urlPattern = z.string().superRefine((value, ctx) => {
    try {
        new RegExp(value);
    } catch {
        ctx.addIssue({ code: "custom", message: `"${value}" is not a regular expression` });
    }
});

const endpoint = z.strictObject({
    name: z.string().min(1).describe("The endpoint's name in Distribution's logs and metrics."),
    url: z
        .url({ protocol: /^https?$/, error: 'must be an http or https URL such as "https://hooks.example.com/registry"' })
        .describe("Where Distribution POSTs the events (http or https)."),
    headers: headers.optional().describe("Headers sent with each request, name → values. No credentials: stack config is plain text."),
    timeout: duration.optional().describe("How long one request may take (Distribution's default 1s)."),
    threshold: z.number().int().min(1).optional().describe("Failures in a row before the endpoint is backed off (default 10)."),
    backoff: duration.optional().describe("How long a failing endpoint is left alone (default 1s)."),
    ignore: z
        .strictObject({
            mediatypes: z.array(z.string().min(1)).optional().describe("Media types whose events are not sent."),
            actions: z
                .array(z.enum(["pull", "push", "delete", "mount"]))
                .optional()
                .describe("Actions whose events are not sent."),
        })
        .optional()
        .describe("Events left out."),
    disabled: z.boolean().optional().describe("Keep the endpoint in the config without sending to it."),
});

/** Key `registry.distributionConfig`. */
export const distributionConfig = z
    .object({
        log: z
            .strictObject({
                level: z
                    .enum(["error", "warn", "info", "debug"])
                    .default("info")
                    .describe("Distribution's log level; the program's is info."),
                formatter: z.enum(["text", "json"]).default("text").describe("Log lines as text or JSON."),
                fields: z.record(z.string(), z.string()).optional().describe("Fields added to every log line, name → value."),
                accesslog: z
                    .strictObject({
                        disabled: z
                            .boolean()
                            .default(false)
                            .describe("Turn Distribution's access log off (the front keeps its own, docs/access-policy.md)."),
                    })
                    .optional()
                    .describe("Distribution's own access log."),
            })
            .optional()
            .describe("Distribution's logging."),
        // Other http keys are refused by name (the program's listener, TLS, secret, debug listener).
        http: z
            .object({
                headers: headers
                    .optional()
                    .describe(
                        "Response headers added to every answer of Distribution, name → values, beside the program's X-Content-Type-Options; protocol headers (Docker-*, Content-*, Location, WWW-Authenticate) and credentials are refused.",
                    ),
            })
            .catchall(z.unknown())
            .optional()
            .describe("Distribution's http section: headers only."),
        notifications: z
            .strictObject({
                events: z
                    .strictObject({
                        includereferences: z
                            .boolean()
                            .optional()
                            .describe("Include the manifest's references (layers, platform manifests) in each event."),
                    })
                    .optional()
                    .describe("What each event carries."),
                endpoints: z.array(endpoint).min(1).describe("Webhooks Distribution sends push, pull and delete events to."),
            })
            .optional()
            .describe("Registry events sent to webhooks (Distribution's notifications)."),
        validation: z
            .strictObject({
                disabled: z.boolean().optional().describe("Turn manifest validation off."),
                manifests: z
                    .strictObject({
                        urls: z
                            .strictObject({
                                allow: z
                                    .array(urlPattern)
                                    .optional()
                                    .describe("Regular expressions: URLs a manifest's foreign layers may name."),
                                deny: z.array(urlPattern).optional().describe("Regular expressions: URLs they may not name."),
                            })
                            .optional()
                            .describe("Foreign-layer URLs."),
                    })
                    .optional()
                    .describe("What a pushed manifest may contain."),
            })
            .optional()
            .describe("Which manifests Distribution accepts."),
    })
    .catchall(z.unknown())
    .superRefine((value, ctx) => {
        for (const problem of distributionSettingProblems(value))
            ctx.addIssue({ code: "custom", path: [...problem.path], message: problem.message });
    });
