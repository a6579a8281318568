/**
 * Import rules checked by `npm run lint` (dependency-cruiser): no circle between files, none between
 * folders, and layers that only look down (docs/architecture.md):
 *
 *   stack/ → placements → features → config (with its decisions) → shared
 *
 * Placements (where things run) never import each other: what two of them use lives in a feature
 * folder (the access policy, accounts, Maven, the mirrors, the upkeep jobs) or in shared/. Every
 * folder of components/ is in exactly one of the layers below (test/unit/importRules.test.ts).
 *
 * components/index.ts, the package's public surface, sits above them all: a program of its own
 * (examples/) imports the package through it alone, and nothing in components/ imports it. This project's
 * program (index.ts) imports its wiring, config loader and gate from their own modules.
 */
const PLACEMENTS = "(externalHost|inCluster|kind|nodeTrust|jenkins)";
const FEATURES = "(accessPolicy|accounts|cluster|distribution|maven|mirrors|monitoring|registryUi|tls|upkeep)";
/** The wiring: the only code that reads the stack's settings and decisions into components' args. */
const WIRING = "(stack)";
/**
 * The bottom layers. consequences/ holds what the components' preview-consequence rules share (read by
 * tools/previewConsequences.ts, never by the program): every folder may import it, it imports none.
 */
const BOTTOM = "(config|shared|consequences)";

module.exports = {
    forbidden: [
        {
            name: "no-circular",
            severity: "error",
            comment: "Files import each other in a circle: move what both need into a file of its own.",
            from: {},
            to: { circular: true },
        },
        {
            name: "no-circular-folders",
            severity: "error",
            scope: "folder",
            comment: "Folders import each other in a circle: move what both need into a shared folder.",
            from: {},
            to: { circular: true },
        },
        {
            name: "placements-stay-apart",
            severity: "error",
            comment: "A placement imports another placement: move the shared piece to components/shared or components/upkeep.",
            from: { path: `^components/${PLACEMENTS}/` },
            to: { path: `^components/${PLACEMENTS}/`, pathNot: "^components/$1/" },
        },
        {
            name: "features-below-placements",
            severity: "error",
            comment: "A feature imports a placement: the placement should import the feature, not the other way round.",
            from: { path: `^components/${FEATURES}/` },
            to: { path: `^components/${PLACEMENTS}/` },
        },
        {
            name: "shared-and-config-at-the-bottom",
            severity: "error",
            comment: "shared/, config/ and consequences/ are the bottom layers: they import nothing of the features, placements or the wiring.",
            from: { path: `^components/${BOTTOM}/` },
            to: { path: `^components/(${PLACEMENTS.slice(1, -1)}|${FEATURES.slice(1, -1)}|stack)/` },
        },
        {
            name: "wiring-at-the-top",
            severity: "error",
            comment: "A component imports the wiring (stack/): the wiring imports components, never the other way round.",
            from: { path: `^components/(${PLACEMENTS.slice(1, -1)}|${FEATURES.slice(1, -1)}|${BOTTOM.slice(1, -1)})/` },
            to: { path: `^components/${WIRING}/` },
        },
        {
            name: "components-stay-out-of-tools-and-tests",
            severity: "error",
            comment: "The program and the examples must not depend on the synth, the mocks or the tests.",
            from: { path: "^(components/|index\\.ts|examples/)" },
            to: { path: "^(tools|test|bench)/" },
        },
        {
            name: "components-stay-out-of-examples",
            severity: "error",
            comment: "The program depends on an example: examples are programs that import the package, never the other way round.",
            from: { path: "^(components/|index\\.ts)" },
            to: { path: "^examples/" },
        },
        {
            name: "programs-through-the-public-surface",
            severity: "error",
            comment: "A program of its own (examples/) imports a component's file directly: import it from components/index.ts, and export it there if it is a component or a type its args name.",
            from: { path: "^examples/" },
            to: { path: "^components/", pathNot: "^components/index\\.ts$" },
        },
        {
            name: "public-surface-for-programs-only",
            severity: "error",
            comment: "A component imports components/index.ts, the public surface: import the module that defines what it needs.",
            from: { path: "^components/" },
            to: { path: "^components/index\\.ts$" },
        },
    ],
    options: {
        tsPreCompilationDeps: true,
        tsConfig: { fileName: "tsconfig.json" },
        doNotFollow: { path: "node_modules" },
        exclude: { path: "node_modules" },
    },
};
