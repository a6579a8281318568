/**
 * The XML documents of the Jenkins Credentials plugin: the body that creates or updates a credential,
 * and the non-secret fields read back out of a credential's config.xml.
 *
 * This module has no top-level imports on purpose: the Jenkins dynamic provider captures these
 * functions, and Pulumi serializes them into the stack's state. Node built-ins are `require`d inside
 * the functions that use them, so the serialized code runs wherever the provider is loaded.
 * That is also why the XML is written and read here rather than with an XML library: code in the state
 * runs again at a later refresh or destroy, where no package of this version need be installed.
 */

/** A credential as this program manages it. */
export type CredentialSpec =
    | {
          readonly kind: "usernamePassword";
          readonly id: string;
          readonly description: string;
          readonly username: string;
          readonly password: string;
          /** Whether Jenkins masks the user name in build logs, as its "Treat username as secret" box. */
          readonly usernameSecret: boolean;
      }
    | {
          readonly kind: "secretText";
          readonly id: string;
          readonly description: string;
          readonly secret: string;
      };

/** What Jenkins shows of a credential (never a secret: Jenkins redacts them). */
export interface LiveCredential {
    readonly className?: string;
    readonly username?: string;
    readonly description?: string;
    /** As written in config.xml; absent there means true for a username/password credential. */
    readonly usernameSecret?: boolean;
}

/** The class (and XML root) of a username/password credential. */
export const USERNAME_PASSWORD_CLASS = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";
/** The class (and XML root) of a secret-text credential. */
export const STRING_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";

/**
 * The Content-Type of every XML body. Jenkins reads an XML body with the charset named here and, when
 * none is named, as ISO-8859-1 (its UTF-8 filter leaves XML alone): without it a non-ASCII password
 * would be stored garbled, with a 200.
 */
export const XML_CONTENT_TYPE = "application/xml; charset=utf-8";

/** Escapes text for an XML element body. */
export function xmlEscape(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Reverses xmlEscape (and numeric references), for values read back from Jenkins. */
export function xmlUnescape(value: string): string {
    return value
        .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
        .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, "&");
}

/** The XML body that creates or updates a credential (global scope). */
export function renderCredentialXml(spec: CredentialSpec): string {
    const fields =
        spec.kind === "usernamePassword"
            ? [
                  ["scope", "GLOBAL"],
                  ["id", spec.id],
                  ["description", spec.description],
                  ["username", spec.username],
                  ["password", spec.password],
                  // Absent means true to Jenkins: always write the setting, so an update never flips it.
                  ["usernameSecret", String(spec.usernameSecret)],
              ]
            : [
                  ["scope", "GLOBAL"],
                  ["id", spec.id],
                  ["description", spec.description],
                  ["secret", spec.secret],
              ];
    const root = spec.kind === "usernamePassword" ? USERNAME_PASSWORD_CLASS : STRING_CLASS;
    const body = fields.map(([tag, value]) => `  <${tag}>${xmlEscape(value!)}</${tag}>\n`).join("");
    return `<${root}>\n${body}</${root}>\n`;
}

/** Reads the class and the non-secret fields out of a credential's config.xml. */
export function parseCredentialXml(xml: string): LiveCredential {
    const root = /<([A-Za-z_][\w.$-]*)(\s[^>]*)?>/.exec(xml.replace(/<\?xml[^>]*\?>/, ""));
    const field = (tag: string) => {
        const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
        return match ? xmlUnescape(match[1]!) : undefined;
    };
    const usernameSecret = field("usernameSecret")?.trim();
    return {
        className: root?.[1],
        username: field("username"),
        description: field("description"),
        ...(usernameSecret === undefined ? {} : { usernameSecret: usernameSecret === "true" }),
    };
}
