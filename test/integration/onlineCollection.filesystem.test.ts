/**
 * Online garbage collection with real Distribution 2.8.3 and 3.1.2 on filesystem storage, behind the pinned
 * Caddy with its hold, while clients push, mount, retag and re-push garbage: test/support/onlineCollectionCases.ts
 * says what each case proves (docs/decisions/online-collection.md).
 */
import { describeOnlineCollection } from "../support/onlineCollectionCases";

describeOnlineCollection("filesystem");
