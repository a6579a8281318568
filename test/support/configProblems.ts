/** The problems `parseConfig` reports for a raw config, each as "key: message"; none when it parses. */
import { ConfigError, parseConfig } from "../../components/config";

export function configProblems(...args: Parameters<typeof parseConfig>): string[] {
    try {
        parseConfig(...args);
    } catch (error) {
        if (error instanceof ConfigError) return error.problems.map((p) => `${p.key}: ${p.message}`);
        throw error;
    }
    return [];
}
