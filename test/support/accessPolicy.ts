/** The access policy the access-policy tests start from (unit and integration alike). */
import type { AccessPolicy } from "../../components/accessPolicy/policy";

export const BASE_POLICY: AccessPolicy = {
    siteAddress: "registry.example.com",
    port: 443,
    tls: { kind: "files", certFile: "/etc/caddy/tls/registry.crt", keyFile: "/etc/caddy/tls/registry.key" },
    upstream: "127.0.0.1:5000",
    requiresAuthForPull: false,
    pushUsersFile: "/etc/caddy/registry-users-push",
    pullUsersFile: "/etc/caddy/registry-users-pull",
    allowedNetworks: [],
    deletesEnabled: false,
};
