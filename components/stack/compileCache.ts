/**
 * Lets Node keep the compiled code of the modules the program loads after this one (its components,
 * @pulumi/kubernetes, zod) between runs, in its compile cache: `NODE_COMPILE_CACHE`'s directory when set,
 * otherwise node-compile-cache in the system's temporary directory. A preview and an update each load the
 * program, so every `pulumi up` loads it twice; with the cache warm, each load compiles less
 * (docs/performance.md, "From `up` to a running pod"). Node checks each entry against the module's source
 * and ignores one that does not match, so an edited program is compiled afresh; a cache that cannot be
 * written is skipped without a word, and `NODE_DISABLE_COMPILE_CACHE=1` turns it off. Imported first by the
 * program (index.ts), so that it comes before the modules it is for.
 */
import * as nodeModule from "node:module";

// Node 22.8 and later have it; an older Node runs the program as before, without the cache.
if (typeof nodeModule.enableCompileCache === "function") nodeModule.enableCompileCache();
