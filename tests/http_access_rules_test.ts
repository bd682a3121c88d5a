/**
 * The pure parts of scoped access and share links: the `--access` grammar and its limits,
 * the longest-prefix decision, path folding, share-token signing/verification with an
 * injected clock, use counting, and the share flags' resolution.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ConfigError } from "../lib/errors.ts";
import {
  allowedAt,
  decideAccess,
  decodedSegments,
  MAX_ACCESS_PATH_CHARS,
  MAX_ACCESS_RULES,
  methodNeed,
  parseAccessRule,
  parseAccessRules,
  requestSegments,
} from "../lib/http/sharing/access_rules.ts";
import {
  MAX_SHARE_COUNTERS,
  MAX_SHARE_FLAGS,
  MAX_SHARE_PATH_CHARS,
  MAX_SHARE_TOKEN_CHARS,
  MAX_SHARE_TTL_MS,
  MIN_SHARE_TTL_MS,
  newShareSecret,
  parseShareTtl,
  type ShareGrant,
  ShareSigner,
  ShareUses,
} from "../lib/http/sharing/share_links.ts";
import { resolveHttpConfig } from "../lib/http/server/config.ts";
import { shareLinkBase } from "../lib/http/server/share_announce.ts";

const users = ["alice", "bob"];

function usageError(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes("\n"));
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("access rules: the grammar, and one-line errors for every bad rule", () => {
  assert.deepEqual(parseAccessRule("@/:ro", users).who, "anyone");
  assert.deepEqual(parseAccessRule("*@/x:rw", users).who, "users");
  const r = parseAccessRule("alice,bob@/My Docs/./x//:none", users);
  assert.deepEqual(r.who, ["alice", "bob"]);
  assert.deepEqual(r.path, ["my docs", "x"]);
  assert.equal(r.mode, "none");
  assert.equal(parseAccessRule("@/x:-", users).mode, "none"); // dufs' spelling
  // A path may hold ':' and '@' (the mode is after the last ':', WHO before the first '@/').
  assert.deepEqual(parseAccessRule("@/a:b@c:ro", users).path, ["a:b@c"]);
  usageError(() => parseAccessRule("alice:ro", users), /expected WHO@\/PATH/);
  usageError(() => parseAccessRule("@/", users), /expected WHO@\/PATH/);
  usageError(() => parseAccessRule("@/x:write", users), /mode 'write' is not ro, rw or none/);
  usageError(() => parseAccessRule("carol@/:ro", users), /unknown user 'carol'.*--auth carol/);
  usageError(() => parseAccessRule("@/a/../b:ro", users), /'\.\.' is not allowed/);
  usageError(() => parseAccessRule("*@/:ro", []), /'\*' means any --auth user/);
});

Deno.test(`access rules: at most ${MAX_ACCESS_RULES} rules and ${MAX_ACCESS_PATH_CHARS}-char paths`, () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `@/d${i}:ro`);
  assert.equal(parseAccessRules(many(MAX_ACCESS_RULES), { users }).length, MAX_ACCESS_RULES + 1);
  usageError(
    () => parseAccessRules(many(MAX_ACCESS_RULES + 1), { users }),
    /too many --access rules: 65 \(at most 64\)/,
  );
  const at = "/" + "p".repeat(MAX_ACCESS_PATH_CHARS - 1);
  assert.equal(parseAccessRule(`@${at}:ro`, users).path[0].length, MAX_ACCESS_PATH_CHARS - 1);
  usageError(() => parseAccessRule(`@${at}p:ro`, users), /longer than 1024 characters/);
});

Deno.test("access rules: the implied rule at / keeps --auth's meaning", () => {
  const withUsers = parseAccessRules([], { users });
  assert.equal(decideAccess(withUsers, null, [], "read"), 401);
  assert.equal(decideAccess(withUsers, "bob", ["x"], "write"), "allow");
  const open = parseAccessRules(["alice@/private:ro"], { users });
  assert.equal(decideAccess(open, null, ["pub"], "read"), 401); // implied *@/:rw
  const anyone = parseAccessRules([], { users: [] });
  assert.equal(decideAccess(anyone, null, ["x"], "write"), "allow");
  // An explicit rule at / replaces the implied one.
  const ro = parseAccessRules(["@/:ro"], { users });
  assert.equal(ro.length, 1);
  assert.equal(decideAccess(ro, "alice", ["x"], "write"), 403);
});

Deno.test("access rules: longest segment prefix decides; best mode among those naming the client", () => {
  const rules = parseAccessRules([
    "@/:ro",
    "alice@/:rw",
    "alice@/private:ro",
    "bob@/private/bob:rw",
    "alice@/pub/closed:none",
  ], { users });
  const seg = (p: string) => requestSegments(p)!;
  assert.equal(decideAccess(rules, null, seg("/a.txt"), "read"), "allow");
  assert.equal(decideAccess(rules, null, seg("/a.txt"), "write"), 401);
  assert.equal(decideAccess(rules, "alice", seg("/a.txt"), "write"), "allow");
  assert.equal(decideAccess(rules, "bob", seg("/a.txt"), "write"), 403);
  assert.equal(decideAccess(rules, null, seg("/private/x"), "read"), 401);
  assert.equal(decideAccess(rules, "bob", seg("/private/x"), "read"), 403);
  assert.equal(decideAccess(rules, "alice", seg("/private/x"), "write"), 403);
  assert.equal(decideAccess(rules, "bob", seg("/private/bob/y"), "write"), "allow");
  assert.equal(decideAccess(rules, "alice", seg("/private/bob/y"), "read"), 403);
  // Segment boundaries: /private never covers /privateer.
  assert.equal(decideAccess(rules, null, seg("/privateer/x"), "read"), "allow");
  // none shadows the shorter rules, for alice; the anonymous rule at / does not reach it.
  assert.equal(decideAccess(rules, "alice", seg("/pub/closed/x"), "read"), 403);
  assert.equal(decideAccess(rules, null, seg("/pub/closed/x"), "read"), 401);
});

Deno.test("access rules: request paths are decoded and folded; impossible ones are null", () => {
  const want = ["private", "s.txt"];
  for (
    const p of [
      "/private/s.txt",
      "/PRIVATE/s.txt",
      "/private./s.txt",
      "/private%20/s.txt",
      "/%70rivate/s.txt",
      "//private//s.txt",
      "/./private/s.txt".replace("/./", "/"),
      "/Private/S.TXT",
    ]
  ) {
    assert.deepEqual(requestSegments(p), want, p);
  }
  // NFC: a decomposed é matches a composed rule.
  assert.deepEqual(requestSegments("/cafe%CC%81"), ["café"]);
  assert.deepEqual(parseAccessRule("@/CAFÉ:ro", users).path, ["café"]);
  for (
    const p of ["/a/../private", "/a/%2e%2e/private", "/private%2Fs.txt", "/a%5Cb", "/%00", "x"]
  ) {
    assert.equal(requestSegments(p), null, p);
  }
  assert.deepEqual(requestSegments("*"), []);
  assert.equal(methodNeed("HEAD"), "read");
  assert.equal(methodNeed("OPTIONS"), "read");
  assert.equal(methodNeed("PUT"), "write");
  assert.equal(methodNeed("BREW"), "write");
});

Deno.test("access config: an rw rule turns uploads on; rules need the users they name", () => {
  const dir = Deno.cwd();
  const on = resolveHttpConfig(dir, { auth: ["alice:pw"], access: ["@/:ro", "alice@/:rw"] });
  assert.ok(on.upload !== undefined);
  const off = resolveHttpConfig(dir, { auth: ["alice:pw"], access: ["@/:ro"] });
  assert.equal(off.upload, undefined);
  usageError(() => resolveHttpConfig(dir, { access: ["alice@/:ro"] }), /unknown user 'alice'/);
  usageError(
    () => resolveHttpConfig(undefined, { access: ["@/:rw"] }),
    /^an rw --access rule needs a DIR to store files in/,
  );
});

const grant = (over: Partial<ShareGrant> = {}): ShareGrant => ({
  path: "/docs/",
  kind: "dir",
  expiresMs: 10_000,
  maxUses: 0,
  ...over,
});

Deno.test("share tokens: verify with an injected clock; any changed byte is forged", async () => {
  const signer = new ShareSigner(newShareSecret());
  const token = await signer.sign(grant({ path: "/Über uns/" }));
  const ok = await signer.verify(token, 9_999);
  assert.ok(ok.ok);
  assert.equal(ok.grant.path, "/Über uns/");
  assert.deepEqual(await signer.verify(token, 10_000), { ok: false, error: "expired" });
  // Each character changed in turn, to a value that keeps the token well-formed.
  for (let i = 0; i < token.length; i++) {
    if (token[i] === ".") continue;
    const changed = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
    const r = await signer.verify(changed, 0);
    assert.ok(!r.ok, `changed at ${i}`);
  }
  // Another run's secret, a longer path, a kind flip: all forged.
  const other = new ShareSigner(newShareSecret());
  assert.deepEqual(await other.verify(token, 0), { ok: false, error: "forged" });
  const [p, , e, u, n, mac] = token.split(".");
  assert.deepEqual(await signer.verify([p, "f", e, u, n, mac].join("."), 0), {
    ok: false,
    error: "forged",
  });
  assert.deepEqual(await signer.verify("x", 0), { ok: false, error: "malformed" });
  assert.deepEqual(await signer.verify(`${token}.`, 0), { ok: false, error: "malformed" });
  // The MAC's last character carries 2 spare bits: a non-canonical spelling is refused.
  // (A canonical last character is one of AEIMQUYcgkosw048; the next one decodes the same.)
  const last = mac.at(-1)!;
  assert.ok("AEIMQUYcgkosw048".includes(last));
  const sibling = String.fromCharCode(last.charCodeAt(0) + 1);
  assert.deepEqual(
    Buffer.from(mac.slice(0, -1) + sibling, "base64url"),
    Buffer.from(mac, "base64url"),
  );
  assert.deepEqual(
    await signer.verify([p, "d", e, u, n, mac.slice(0, -1) + sibling].join("."), 0),
    {
      ok: false,
      error: "forged",
    },
  );
});

Deno.test(`share tokens: a valid token of ${MAX_SHARE_TOKEN_CHARS} chars verifies; one more is refused`, async () => {
  const signer = new ShareSigner(newShareSecret());
  // Path bytes and the use count's digits (base 36) tune the length to the character.
  let exact: { token: string; path: string } | undefined;
  search: for (let bytes = 1400; bytes < 1600; bytes++) {
    for (const maxUses of [0, 36, 1296, 46656]) {
      const path = "/" + "p".repeat(bytes - 1);
      const token = await signer.sign(grant({ path, kind: "file", maxUses }));
      if (token.length === MAX_SHARE_TOKEN_CHARS) {
        exact = { token, path };
        break search;
      }
    }
  }
  assert.ok(exact);
  const ok = await signer.verify(exact.token, 0);
  assert.ok(ok.ok && ok.grant.path === exact.path);
  const [p, ...rest] = exact.token.split(".");
  const longer = [p + "A", ...rest].join(".");
  assert.equal(longer.length, MAX_SHARE_TOKEN_CHARS + 1);
  assert.deepEqual(await signer.verify(longer, 0), { ok: false, error: "malformed" });
});

Deno.test("share uses: reserved before, counted when answered 200, never past the limit", () => {
  const uses = new ShareUses(2);
  const g = grant({ maxUses: 2, expiresMs: 100 });
  assert.equal(uses.reserve("a", g, 0), "ok");
  assert.equal(uses.reserve("a", g, 0), "ok");
  assert.equal(uses.reserve("a", g, 0), "exhausted"); // two in flight
  uses.settle("a", false); // a 404 gives its use back
  assert.equal(uses.reserve("a", g, 0), "ok");
  uses.settle("a", true);
  uses.settle("a", true);
  assert.equal(uses.reserve("a", g, 0), "exhausted");
  // At most maxCounters links counted: one more is "full" until an expired one is dropped.
  assert.equal(uses.reserve("b", g, 0), "ok");
  assert.equal(uses.reserve("c", g, 0), "full");
  assert.equal(uses.reserve("c", g, 100), "ok");
  assert.equal(uses.size, 1);
  assert.equal(new ShareUses().maxCounters, MAX_SHARE_COUNTERS);
});

Deno.test("share flags: --share-ttl 1s..30d; --share-uses refused with --workers; limits", () => {
  assert.equal(parseShareTtl("1"), MIN_SHARE_TTL_MS);
  assert.equal(parseShareTtl("24h"), 86_400_000);
  assert.equal(parseShareTtl("30d"), MAX_SHARE_TTL_MS);
  usageError(() => parseShareTtl("0.9"), /expected 1s to 30d/);
  usageError(() => parseShareTtl("30.001d"), /expected 1s to 30d/);
  usageError(() => parseShareTtl("1w"), /expected a duration/);
  const dir = Deno.cwd();
  usageError(
    () => resolveHttpConfig(dir, { auth: ["a:b"], shareUses: 3, workers: 2 }),
    /--share-uses counts downloads per process/,
  );
  assert.equal(
    resolveHttpConfig(dir, { auth: ["a:b"], shareUses: 3, workers: 1 }).share?.maxUses,
    3,
  );
  usageError(
    () => resolveHttpConfig(dir, { shareTtl: 5000 }),
    /--share-ttl needs --share or --auth/,
  );
  usageError(() => resolveHttpConfig(dir, { share: ["a/../b"] }), /'\.\.' is not allowed/);
  const atPath = "p".repeat(MAX_SHARE_PATH_CHARS - 1); // "/" is added in front
  assert.equal(resolveHttpConfig(dir, { share: [atPath] }).share?.paths[0].length, 1024);
  usageError(
    () => resolveHttpConfig(dir, { share: [atPath + "p"] }),
    /invalid --share: longer than 1024 characters/,
  );
  const flags = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`);
  assert.equal(resolveHttpConfig(dir, { share: flags(MAX_SHARE_FLAGS) }).share?.paths.length, 32);
  usageError(
    () => resolveHttpConfig(dir, { share: flags(MAX_SHARE_FLAGS + 1) }),
    /too many --share paths: 33 \(at most 32\)/,
  );
});

Deno.test("access rules: what write features ask about — a '..' is never allowed", () => {
  const rules = parseAccessRules(["@/:ro", "bob@/inbox:rw"], { users });
  assert.equal(allowedAt(rules, "bob", "/inbox/new.txt", "write"), true);
  assert.equal(allowedAt(rules, "bob", "/Inbox./new.txt", "write"), true); // folded alike
  // A feature that would normalise later must not be told yes for one place, then write
  // another: /inbox/../private/x is refused outright, as are \\ and NUL.
  for (const path of ["/inbox/../private/x", "/inbox/..", "/inbox/a\\b", "/inbox/a\0"]) {
    assert.equal(decodedSegments(path), null, path);
    assert.equal(allowedAt(rules, "bob", path, "write"), false, path);
    assert.equal(allowedAt(rules, "bob", path, "read"), false, path);
  }
  assert.deepEqual(decodedSegments("/a/./b//C"), ["a", "b", "c"]);
});

Deno.test("share links are printed on the LAN address a phone can reach, else the bound one", () => {
  const lan = [{ family: "IPv4" as const, address: "192.168.1.5" }];
  assert.equal(shareLinkBase("0.0.0.0", 8000, "https", lan), "https://192.168.1.5:8000");
  assert.equal(shareLinkBase("0.0.0.0", 8000, "http", []), "http://127.0.0.1:8000");
  assert.equal(shareLinkBase("::1", 8443, "https", lan), "https://[::1]:8443");
});
