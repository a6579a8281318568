/** No setting is silently ignored (test/support/everySetting.ts): the `nodes` and `jenkins` keys. */
import { describeEverySetting } from "../support/everySetting";

describeEverySetting("nodes and jenkins");
