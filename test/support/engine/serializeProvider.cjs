/**
 * Child process: loads the program's TypeScript the way the `pulumi` CLI's language host does
 * (@pulumi/pulumi cmd/run/run.js, for PULUMI_NODEJS_TYPESCRIPT=true: ts-node found by
 * tsutils.typeScriptRequireStrings, registered with the project's tsconfig.json and run.js's
 * compiler options), creates one Jenkins credential under Pulumi's mocks, and writes the `__provider`
 * text the SDK serialized for it (what the engine stores in state) to the file named by argv[3].
 * argv[2]: the project directory. The credential's secret inputs come from the environment
 * (JENKINS_SECRET, CREDENTIAL_PASSWORD), as the CLI hands decrypted config to a program.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [projectDir, outFile] = process.argv.slice(2);
process.chdir(projectDir);
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [projectDir] }));
const tsutils = require(path.join(pulumiDir, "tsutils"));
const semver = require(require.resolve("semver", { paths: [pulumiDir] }));

// As run.js: transpileOnly from PULUMI_NODEJS_TRANSPILE_ONLY, else the tsconfig's noCheck.
const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const transpileOnly = process.env.PULUMI_NODEJS_TRANSPILE_ONLY
    ? process.env.PULUMI_NODEJS_TRANSPILE_ONLY === "true"
    : compilerOptions.noCheck;
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const tsVersion = semver.parse(require(typescriptRequire).version);
const useNodeNext = tsVersion && tsVersion.compare(new semver.SemVer("4.7.0")) >= 0;
require(tsnodeRequire).register({
    compiler: typescriptRequire,
    transpileOnly,
    project: tsConfigPath,
    skipProject: !fs.existsSync(tsConfigPath),
    compilerOptions: {
        target: "ES2020",
        module: useNodeNext ? "nodenext" : "commonjs",
        moduleResolution: useNodeNext ? "nodenext" : "node",
        sourceMap: "true",
        ...compilerOptions,
    },
});

const pulumi = require("@pulumi/pulumi");
let written = false;
pulumi.runtime.setMocks(
    {
        newResource(args) {
            if (typeof args.inputs.__provider === "string") {
                fs.writeFileSync(outFile, args.inputs.__provider);
                written = true;
            }
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
    },
    "dso-registry",
    "engine",
    false,
);
const { JenkinsCredential } = require(path.join(projectDir, "components/jenkins/jenkinsCredentials.ts"));
new JenkinsCredential("credential", {
    jenkinsUrl: "http://127.0.0.1:1",
    jenkinsUser: "admin",
    jenkinsAuth: "token",
    jenkinsSecret: process.env.JENKINS_SECRET,
    timeoutSeconds: 10,
    credentialId: "container-registry",
    kind: "usernamePassword",
    description: "Push",
    username: "ci-push",
    usernameSecret: false,
    password: process.env.CREDENTIAL_PASSWORD,
});
process.on("beforeExit", () => {
    if (!written) {
        console.error("no __provider was registered");
        process.exitCode = 1;
    }
});
