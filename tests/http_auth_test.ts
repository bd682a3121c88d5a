import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ConfigError } from "../lib/errors.ts";
import {
  BASIC_CHALLENGE,
  MAX_AUTHORIZATION_HEADER_BYTES,
  parseAuthSpec,
  parseBasicAuthorization,
  redactAuthSpec,
  redactHeaderValue,
  redactRequestHead,
  redactTargetUserinfo,
  verifyBasicCredentials,
} from "../lib/http/sharing/auth.ts";

const hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
/** What curl -u USER:PASS sends. */
const basic = (userPass: string) =>
  "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(userPass)));

Deno.test("parseAuthSpec: plain and hashed specs verify the same password", () => {
  const plain = parseAuthSpec("alice:s3cret");
  const hashed = parseAuthSpec(`alice:sha256:${hex("s3cret")}`);
  const upper = parseAuthSpec(`alice:sha256:${hex("s3cret").toUpperCase()}`);
  assert.equal(plain.user, "alice");
  assert.deepEqual(plain.passwordDigest, hashed.passwordDigest);
  assert.deepEqual(plain.passwordDigest, upper.passwordDigest);
  for (const c of [plain, hashed, upper]) {
    assert.equal(verifyBasicCredentials({ user: "alice", password: "s3cret" }, [c]), true);
    assert.equal(verifyBasicCredentials({ user: "alice", password: "s3cre" }, [c]), false);
  }
});

Deno.test("parseAuthSpec: the password is split at the first colon and may hold colons", () => {
  const c = parseAuthSpec("bob:a:b:c");
  assert.equal(c.user, "bob");
  assert.equal(verifyBasicCredentials({ user: "bob", password: "a:b:c" }, [c]), true);
});

Deno.test("parseAuthSpec: bad specs are one-line UsageErrors that never echo the password", () => {
  const bad = [
    "nocolonZq9",
    ":Zq9",
    "alice:",
    "alice:sha256:Zq9",
    `alice:sha256:Zq9${"a".repeat(61)}`,
    "al\nice:Zq9",
    "alice:Zq\x009",
  ];
  for (const spec of bad) {
    assert.throws(() => parseAuthSpec(spec), (err) => {
      assert.ok(err instanceof ConfigError, spec);
      assert.ok(!err.message.includes("\n"), `one line for ${JSON.stringify(spec)}`);
      assert.ok(!/Zq.?9/.test(err.message), `no password in ${err.message}`);
      return true;
    });
  }
});

Deno.test("parseBasicAuthorization: what curl sends, scheme case and UTF-8", () => {
  assert.deepEqual(parseBasicAuthorization(basic("alice:s3cret")), {
    user: "alice",
    password: "s3cret",
  });
  assert.deepEqual(parseBasicAuthorization("bAsIc   " + btoa("a:b:c")), {
    user: "a",
    password: "b:c",
  });
  assert.deepEqual(parseBasicAuthorization(basic("jürgen:pässwörd")), {
    user: "jürgen",
    password: "pässwörd",
  });
  // Unpadded base64 is accepted as atob does; empty password is a (wrong) password.
  assert.deepEqual(parseBasicAuthorization("Basic " + btoa("ab:").replace(/=+$/, "")), {
    user: "ab",
    password: "",
  });
});

Deno.test("parseBasicAuthorization: anything unusable is null, never a throw", () => {
  const bad = [
    null,
    undefined,
    "",
    "Basic",
    "Basic ",
    "Bearer " + btoa("a:b"),
    "Basic " + btoa("nocolon"),
    "Basic !!!!",
    "Basic YWJj=ZA==", // padding in the middle
    "Basic Y", // length 1 mod 4
    "Basic " + btoa("a:b") + " extra",
    "Basic " + btoa("\xff\xfe:\xff"), // not UTF-8
    "Basic " + "A".repeat(MAX_AUTHORIZATION_HEADER_BYTES),
  ];
  for (const value of bad) assert.equal(parseBasicAuthorization(value), null, String(value));
});

Deno.test("verifyBasicCredentials: right user with another's password fails; any user matches", () => {
  const creds = [parseAuthSpec("alice:one"), parseAuthSpec(`bob:sha256:${hex("two")}`)];
  const check = (user: string, password: string) =>
    verifyBasicCredentials(parseBasicAuthorization(basic(`${user}:${password}`)), creds);
  assert.equal(check("alice", "one"), true);
  assert.equal(check("bob", "two"), true);
  assert.equal(check("alice", "two"), false);
  assert.equal(check("bob", "one"), false);
  assert.equal(check("carol", "one"), false);
  assert.equal(check("Alice", "one"), false);
  assert.equal(verifyBasicCredentials(null, creds), false);
  assert.equal(verifyBasicCredentials({ user: "alice", password: "one" }, []), false);
});

Deno.test("challenge and redaction", () => {
  assert.equal(BASIC_CHALLENGE, 'Basic realm="sockit", charset="UTF-8"');
  assert.equal(redactAuthSpec("alice:s3cret"), "alice:<redacted>");
  assert.equal(redactAuthSpec("alice:sha256:" + hex("x")), "alice:<redacted>");
  assert.equal(redactAuthSpec("garbage"), "<redacted>");
  assert.equal(redactHeaderValue("Authorization", basic("alice:s3cret")), "Basic <redacted>");
  assert.equal(redactHeaderValue("proxy-authorization", "Digest x=1"), "Digest <redacted>");
  assert.equal(redactHeaderValue("Cookie", "sid=1"), "<redacted>");
  assert.equal(redactHeaderValue("Host", "example"), "example");
});

Deno.test("redactRequestHead: secrets gone from a raw head, the rest byte for byte", () => {
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const head = latin1(
    `GET /x\xe9\x80\x9f HTTP/1.1\r\nHost: h\r\nauthorization:  ${basic("alice:s3cret")}\r\n` +
      `Cookie: sid=abc\r\nX-Other: Basic keep\r\n\r\n`,
  );
  const redacted = String.fromCharCode(...redactRequestHead(head));
  assert.equal(
    redacted,
    "GET /x\xe9\x80\x9f HTTP/1.1\r\nHost: h\r\nauthorization: Basic <redacted>\r\n" +
      "Cookie: <redacted>\r\nX-Other: Basic keep\r\n\r\n",
  );
  assert.ok(!redacted.includes(btoa("alice:s3cret")));
  const plain = latin1("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(redactRequestHead(plain), plain);
});

Deno.test("redactTargetUserinfo and redactRequestHead: user:pass@ in absolute-form targets", () => {
  assert.equal(
    redactTargetUserinfo("http://alice:s3cret@example.org:8000/a?b=c@d"),
    "http://<redacted>@example.org:8000/a?b=c@d",
  );
  assert.equal(redactTargetUserinfo("HTTPS://a@b@host/"), "HTTPS://<redacted>@host/");
  assert.equal(redactTargetUserinfo("/path/with@at?x=y@z"), "/path/with@at?x=y@z");
  assert.equal(redactTargetUserinfo("http://host/a@b"), "http://host/a@b");
  const head = new TextEncoder().encode(
    "GET http://alice:s3cret@h/x HTTP/1.1\r\nHost: h\r\nX-Mail: a@b\r\n\r\n",
  );
  assert.equal(
    new TextDecoder().decode(redactRequestHead(head)),
    "GET http://<redacted>@h/x HTTP/1.1\r\nHost: h\r\nX-Mail: a@b\r\n\r\n",
  );
  const originForm = new TextEncoder().encode("GET /a@b HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.deepEqual(redactRequestHead(originForm), originForm);
});
