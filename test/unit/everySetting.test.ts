/**
 * No setting is silently ignored (test/support/everySetting.ts): the keys no other everySetting file
 * checks, the walk of the schema and the base configurations.
 * Covers: components/config/toolSettings.ts (a key only tools read leaves the synth as it was, with no warning).
 */
import { describeEverySetting } from "../support/everySetting";

describeEverySetting("the rest");
