/** No setting is silently ignored (test/support/everySetting.ts): the `registry` and `externalHost` keys. */
import { describeEverySetting } from "../support/everySetting";

describeEverySetting("registry and externalHost");
