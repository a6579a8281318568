/**
 * The Jenkins API's URLs (components/jenkins/jenkinsApi.ts): a credential's config.xml under the base
 * URL, its ID escaped. The calls themselves, against a fake Jenkins: jenkinsProvider.test.ts.
 */
import { expect, it } from "vitest";
import { credentialUrl } from "../../components/jenkins/jenkinsApi";

it("builds credential URLs with the ID escaped", () => {
    expect(credentialUrl("https://j.example.com/ci/", "a b")).toBe(
        "https://j.example.com/ci/credentials/store/system/domain/_/credential/a%20b/config.xml",
    );
});
