/**
 * Child process: one call of a dynamic provider as Pulumi's dynamic-provider host makes it
 * (@pulumi/pulumi cmd/dynamic-provider/index.js): the provider is the `__provider` text loaded with
 * require-from-string and `.handler()`, taken from the new inputs for check/diff/update (the old state's
 * when the new one is unknown) and from the stored state for read/delete; the outputs of create,
 * update and read carry `__provider` on, as the host's resultIncludingProvider does. The request is JSON
 * on stdin ({ method, id, olds, news, props }), the answer JSON on stdout.
 */
"use strict";
const path = require("node:path");

const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [process.cwd()] }));
const requireFromString = require(require.resolve("require-from-string", { paths: [pulumiDir] }));
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const load = (props) => requireFromString(props.__provider).handler();
const withProvider = (outs, props) => ({ ...outs, __provider: props.__provider });

async function call(req) {
    switch (req.method) {
        case "diff": {
            const provider = load(req.news.__provider === UNKNOWN ? req.olds : req.news);
            return provider.diff ? await provider.diff(req.id, req.olds, req.news) : {};
        }
        case "create": {
            const result = await load(req.props).create(req.props);
            return { id: result.id, outs: withProvider(result.outs, req.props) };
        }
        case "update": {
            const provider = load(req.news);
            const result = (provider.update ? await provider.update(req.id, req.olds, req.news) : {}) || {};
            return { outs: withProvider(result.outs, req.news) };
        }
        case "read": {
            const result = await load(req.props).read(req.id, req.props);
            return { id: result.id, props: result.props && withProvider(result.props, req.props) };
        }
        case "delete":
            await load(req.props).delete(req.id, req.props);
            return {};
        default:
            throw new Error(`unknown method ${req.method}`);
    }
}

let input = "";
process.stdin.setEncoding("utf8").on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
    call(JSON.parse(input)).then(
        (answer) => process.stdout.write(JSON.stringify({ ok: answer })),
        (error) => process.stdout.write(JSON.stringify({ error: String(error && error.message ? error.message : error) })),
    );
});
