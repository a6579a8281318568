/**
 * No setting is silently ignored (test/support/everySetting.ts): the keys no other everySetting file
 * checks, the walk of the schema and the base configurations.
 */
import { describeEverySetting } from "../support/everySetting";

describeEverySetting("the rest");
