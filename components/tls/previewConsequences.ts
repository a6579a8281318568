/**
 * What a preview of the generated certificates disrupts (`RegistryTls`: the CA and the server certificate
 * it signs), for the consequences summary (tools/previewConsequences.ts, docs/preview-consequences.md).
 */
import { CUT, type Rule } from "../consequences/previewConsequences";

/** The generated CA and the server certificate. */
const certificates: Rule = (c) => {
    if (c.op === "create" || c.op === "update") return [];
    if (c.type === "tls:index/selfSignedCert:SelfSignedCert") {
        return [
            {
                kind: "certificate",
                disrupts: CUT,
                text:
                    c.op === "delete"
                        ? "the generated CA is removed: a client that trusts only it must trust the CA of the certificate served from then on"
                        : "the generated CA is replaced: every node's trust file and every copy of the CA get the new one in this up; a client holding the old CA fails until it has the new one",
            },
        ];
    }
    if (c.type === "tls:index/locallySignedCert:LocallySignedCert" && c.op === "replace") {
        return [
            {
                kind: "certificate",
                text: "the registry's server certificate is replaced (the front serves the new one once it restarts or reloads)",
            },
        ];
    }
    return [];
};

/** The certificates' rules. */
export const TLS_RULES: readonly Rule[] = [certificates];
