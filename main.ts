/**
 * sockit — TCP echo and a static HTTP/1.1 server, in one binary.
 *
 * The one entry point: parses argv with lib/cli/command.ts (commander's API, in-repo for
 * start-up time) and dispatches to a subcommand in `lib/`. Usage errors are one line on stderr
 * and exit code 2; runtime failures exit 1.
 *
 * ```sh
 * deno run -A main.ts http-serve ./public --port 8080
 * deno run -A main.ts echo-server --port 0
 * deno run -A main.ts echo-client 127.0.0.1:8000 hello --expect hello
 * ```
 *
 * @module
 */
import {
  Argument,
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "./lib/cli/command.ts";
import denoJson from "./deno.json" with { type: "json" };
import { parseCacheSeconds } from "./lib/http/semantics/conditional.ts";
import { parseHeaderFlag } from "./lib/http/middleware/cors.ts";
import { MAX_SHARE_USES, parseShareTtl } from "./lib/http/sharing/share_links.ts";
import { ConfigError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./lib/errors.ts";
import {
  parseByteSize,
  parseIntUpTo,
  parsePort,
  parsePositiveInt,
  parsePositiveNumber,
  parseSeconds,
} from "./lib/values.ts";
import {
  DEFAULT_LOAD_MESSAGE_BYTES,
  DEFAULT_LOAD_SECONDS,
  MAX_LOAD_CONNECTIONS,
  MAX_LOAD_MESSAGE_BYTES,
} from "./lib/echo/load.ts";
import { flushLogs } from "./lib/log.ts";
import { parseWorkers } from "./lib/net/workers.ts";
import { parseFingerprint, readCaFile } from "./lib/net/tls.ts";
import { resolveClientTls } from "./lib/echo/connect.ts";
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from "./lib/completions.ts";

/** `--version`: sockit's, and the Deno and target it runs on (what a bug report needs). */
const VERSION_LINE = `sockit ${denoJson.version} (deno ${Deno.version.deno}, ${Deno.build.target})`;

/**
 * One first command per subcommand, for `sockit` with no arguments (a test checks that every
 * subcommand has one).
 */
const FIRST_EXAMPLES: Record<string, string> = {
  "http-serve": "sockit http-serve ./public --port 8080",
  "echo-server": "sockit echo-server --port 9000",
  "echo-client": "sockit echo-client localhost:9000 hello --expect hello",
  "time-server": "sockit time-server --port 1313",
  completions: "sockit completions bash > ~/.local/share/bash-completion/completions/sockit",
};

/** What `sockit` alone prints: what it is, each subcommand with an example, where to read on. */
function overview(program: Command): string {
  const commands = program.commands.filter((c) => c.name() !== "help");
  const width = Math.max(...commands.map((c) => c.name().length)) + 2;
  const lines = [`sockit ${denoJson.version}: ${program.description()}`, "", "Subcommands:"];
  for (const command of commands) {
    lines.push(`  ${command.name().padEnd(width)}${command.description()}`);
    const example = FIRST_EXAMPLES[command.name()];
    if (example !== undefined) lines.push(`  ${" ".repeat(width)}  ${example}`);
  }
  lines.push(
    "",
    "Every flag of one: sockit SUBCOMMAND --help    All of them: sockit --help",
  );
  return lines.join("\n");
}

/** Wraps a value parser so its ConfigError becomes commander's "invalid argument" error. */
function flag<T>(parse: (value: string) => T): (value: string) => T {
  return (value: string) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof ConfigError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

/**
 * Adds `--host` and `--port`, the first two flags of every server, so both servers define
 * them once and alike.
 */
function addListenOptions(command: Command): Command {
  return command
    .option("--host <host>", "address to listen on", "0.0.0.0")
    .option("--port <port>", "port to listen on (0 = any free port)", flag(parsePort), 8000);
}

/** `--max-connections` of a server; `whenFull` says what happens to one connection too many. */
function maxConnectionsOption(whenFull: string): Option {
  return new Option(
    "--max-connections <n>",
    `open connections allowed at once; ${whenFull} (default: unlimited)`,
  ).argParser(flag((v) => parsePositiveInt(v, "--max-connections")));
}

/** `--shutdown-timeout` of a server; `inFlight` names the work a graceful stop waits for. */
function shutdownTimeoutOption(inFlight: string): Option {
  return new Option(
    "--shutdown-timeout <seconds>",
    `on SIGINT/SIGTERM, let in-flight ${inFlight}`,
  ).argParser(flag((v) => parseSeconds(v, "--shutdown-timeout"))).default(5);
}

/** `--workers` of a server: the same flag for both (see lib/workers.ts). */
function workersOption(): Option {
  return new Option(
    "--workers <n>",
    "isolates sharing the port, one per core with 'auto' (Linux; deno needs --unstable-net)",
  ).argParser(flag(parseWorkers)).default(1);
}

/** `--tls-cert FILE|auto` of a server; with the two below, alike for both (lib/net/tls.ts). */
function tlsCertOption(serves: string): Option {
  return new Option(
    "--tls-cert <file>",
    `serve ${serves} with this PEM certificate (needs --tls-key), or 'auto': a throw-away ` +
      "self-signed one, its SHA-256 fingerprint on the listening line (./auto for a file)",
  );
}

/** `--tls-key FILE` of a server. */
function tlsKeyOption(): Option {
  return new Option("--tls-key <file>", "PEM private key for --tls-cert FILE");
}

/** `--tls-cert-out FILE` of a server: the one thing `auto` writes, and only when asked. */
function tlsCertOutOption(): Option {
  return new Option(
    "--tls-cert-out <file>",
    "with --tls-cert auto, write the certificate (never the key) here, for curl --cacert",
  );
}

/** Builds the whole command tree; exported so tests can inspect it without running it. */
export function buildProgram(): Command {
  const program = new Command("sockit")
    .description(
      "TCP/UDP echo client and server, a daytime server and a static-file HTTP/1.1 server, " +
        "in one binary.",
    )
    .version(VERSION_LINE, "-V, --version", "print the version, Deno version and target, and exit")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // One line per usage error: commander's message and suggestion, joined.
      outputError: (message, write) =>
        write(
          `sockit: ${
            message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ").trim()
          } (see 'sockit --help')\n`,
        ),
    })
    .addHelpText(
      "after",
      `
Examples:
  sockit http-serve                       serve the built-in site on http://0.0.0.0:8000/
  sockit http-serve ./public --port 8080  serve a folder
  sockit echo-server --port 9000          echo every byte back (RFC 862)
  sockit echo-client localhost:9000 hello --expect hello
  sockit echo-client localhost:9000 ping --count 10   round-trip times
  sockit echo-client localhost:9000 --connections 200 --duration 10   load test with verification
  sockit time-server --port 1313          RFC 867 daytime: one line, then close

Exit codes: 0 ok, 1 runtime failure, 2 usage error.`,
    );

  // --- echo-server ---------------------------------------------------------------------
  addListenOptions(
    program
      .command("echo-server")
      .description("TCP echo server: raw bytes (RFC 862), lines, or length-prefixed frames"),
  )
    .addOption(
      new Option("--mode <mode>", "what one message is").choices(["raw", "line", "length"])
        .default("raw"),
    )
    .option(
      "--reply <text>",
      "answer every message with TEXT instead of echoing (raw: every read is a message)",
    )
    .option(
      "--close-after-reply",
      "close each connection after its first answer (a read-once server)",
    )
    .option(
      "--udp",
      "echo UDP datagrams instead (RFC 862); raw or line mode (deno needs --unstable-net)",
    )
    .option(
      "--max-frame <bytes>",
      "largest line or frame accepted (default 64KiB for line, 16MiB for length)",
      flag((v) => parseByteSize(v, "--max-frame")),
    )
    .option(
      "--idle-timeout <seconds>",
      "close a connection with no traffic (or not reading) this long (0 = never)",
      flag((v) => parseSeconds(v, "--idle-timeout")),
      300,
    )
    .addOption(maxConnectionsOption("more are closed at once"))
    .addOption(shutdownTimeoutOption("echoes finish this long before closing"))
    .option("--quiet", "do not log each message (connections are still logged)")
    .option("--json", "log one JSON object per event")
    .addOption(workersOption())
    .addOption(tlsCertOption("TLS"))
    .addOption(tlsKeyOption())
    .addOption(tlsCertOutOption())
    .addHelpText(
      "after",
      `
The first stdout line is always: sockit echo-server listening on tcp://HOST:PORT (mode MODE)
With --tls-cert it is tls://HOST:PORT (mode MODE; sha256 Fingerprint=AB:CD:…), the
certificate's fingerprint for echo-client --fingerprint; its public-key pin follows.

Examples:
  sockit echo-server --port 9000
  sockit echo-server --port 9000 --mode line --reply Yes
  sockit echo-server --port 9000 --reply Yes --close-after-reply   like a read-once socket tutorial
  sockit echo-server --port 9000 --udp                 UDP echo: every datagram comes back
  sockit echo-server --port 0 --json
  sockit echo-server --port 9000 --workers 2 --quiet   two cores (Linux)
  sockit echo-server --port 9443 --tls-cert auto     TLS with a throw-away certificate
  sockit echo-server --port 9443 --tls-cert cert.pem --tls-key key.pem
  sockit echo-server --port 9443 --tls-cert auto --tls-cert-out cert.pem   for --ca / --cacert
  openssl s_client -connect localhost:9443 -quiet    a TLS client to try it with`,
    )
    .action(async (opts) => {
      const { runEchoServer } = await import("./lib/echo/server.ts");
      await runEchoServer(opts);
    });

  // --- time-server ---------------------------------------------------------------------
  addListenOptions(
    program
      .command("time-server")
      .description("daytime server (RFC 867): one line with the current time, then close"),
  )
    .addOption(
      new Option("--format <format>", "how the time is written (UTC, to the second)")
        .choices(["iso", "rfc2822", "unix"]).default("iso"),
    )
    .option("--udp", "answer every UDP datagram with the line instead of serving TCP")
    .option("--quiet", "do not log each answer (TCP connections are still logged)")
    .option("--json", "log one JSON object per event")
    .addOption(maxConnectionsOption("more are closed at once (TCP only)"))
    .addOption(shutdownTimeoutOption("answers finish this long before closing"))
    .addOption(workersOption())
    .addHelpText(
      "after",
      `
Each line ends with CRLF, as inetd's built-in daytime service sends it:
  iso      2026-11-27T11:29:53Z
  rfc2822  Fri, 27 Nov 2026 11:29:53 +0000
  unix     1795778993

The first stdout line is always: sockit time-server listening on tcp://HOST:PORT (format FORMAT)
(udp://HOST:PORT with --udp).

Examples:
  sockit time-server --port 1313
  sockit echo-client localhost:1313 --mode raw < /dev/null     read the time
  sockit time-server --port 1313 --format rfc2822 --json
  sockit time-server --port 1313 --format unix --udp --quiet
  echo | socat - UDP:localhost:1313                             ask over UDP
  sockit time-server --port 1313 --max-connections 100 --shutdown-timeout 2
  sockit time-server --port 1313 --workers 2   two cores (Linux; TCP only)`,
    )
    .action(async (opts) => {
      const { runTimeServer } = await import("./lib/time/server.ts");
      await runTimeServer(opts);
    });

  // --- echo-client ---------------------------------------------------------------------
  program
    .command("echo-client")
    .description("send messages to an echo server, print replies and round-trip times")
    .argument("<address>", "[HOST:]PORT of the server (IPv6: [::1]:8000)")
    .argument("[message...]", "messages to send (none: read stdin)")
    .addOption(
      new Option(
        "--mode <mode>",
        "how messages are framed and what a reply is: line = one line (a newline is added), " +
          "or what came before the server closed; raw = bytes as given, the reply is the whole " +
          "echo, or what came before the server closed or --timeout; length = 4-byte " +
          "big-endian length prefix each way, one whole frame",
      ).choices(["raw", "line", "length"]).default("line"),
    )
    .option(
      "--count <n>",
      "send each message N times and print round-trip statistics",
      flag((v) => {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1) throw new ConfigError(`invalid --count '${v}'`);
        return n;
      }),
    )
    .option(
      "--interval <seconds>",
      "pause between messages",
      flag((v) => parseSeconds(v, "--interval")),
      0,
    )
    .option(
      "--timeout <seconds>",
      "give up on connecting or on a reply after this long (0 = never)",
      flag((v) => parseSeconds(v, "--timeout")),
      5,
    )
    .option(
      "--wait <seconds>",
      "retry connecting until the port accepts or this time is up",
      flag((v) => parseSeconds(v, "--wait")),
    )
    .option("--expect <text>", "exit 1 unless every reply equals TEXT")
    .option("--json", "print one JSON object per reply, then a summary object")
    .option(
      "--udp",
      "send each message as one UDP datagram (RFC 862 UDP echo); reports loss like ping",
    )
    .option(
      "--connections <n>",
      `load mode: hold N connections, one message in flight each (1-${MAX_LOAD_CONNECTIONS})`,
      flag((v) => parseIntUpTo(v, MAX_LOAD_CONNECTIONS, "--connections")),
    )
    .option(
      "--duration <seconds>",
      `load mode: run this long (default ${DEFAULT_LOAD_SECONDS})`,
      flag((v) => parsePositiveNumber(v, "--duration")),
    )
    .option(
      "--rate <n>",
      "load mode: messages per second per connection (default: as fast as echoes return)",
      flag((v) => parsePositiveNumber(v, "--rate")),
    )
    .option(
      "--size <bytes>",
      `load mode: payload bytes per message (default ${DEFAULT_LOAD_MESSAGE_BYTES})`,
      flag((v) => {
        const n = parseByteSize(v, "--size");
        if (n < 1 || n > MAX_LOAD_MESSAGE_BYTES) {
          throw new ConfigError(`invalid --size '${v}': expected 1 to ${MAX_LOAD_MESSAGE_BYTES}`);
        }
        return n;
      }),
    )
    .option("--tls", "connect with TLS; the certificate must be valid for HOST (system CAs, --ca)")
    .option(
      "--ca <file>",
      "with --tls, also trust this PEM CA (or self-signed) certificate",
      flag(readCaFile),
    )
    .option(
      "--insecure",
      "with --tls, accept any certificate (encrypted, but the server is unchecked)",
    )
    .option(
      "--fingerprint <sha256>",
      "with --tls, accept only the certificate with this SHA-256 fingerprint (AB:CD:…)",
      flag(parseFingerprint),
    )
    // TLS flag combinations are usage errors (exit 2), found before anything connects.
    .hook("preAction", (command) => void resolveClientTls(command.opts()))
    .addHelpText(
      "after",
      `
Examples:
  sockit echo-client 9000 hello                      one round trip to localhost:9000
  sockit echo-client example.org:7 hi --expect hi    CI check: exit 1 unless it answers hi
  sockit echo-client [::1]:9000 ping --count 20 --interval 0.2
  printf 'a\\nb\\n' | sockit echo-client 9000           lines from stdin
  sockit echo-client 9000 --wait 30 ready --expect ready   wait for a service to come up
  sockit echo-client 9000 --mode raw "can you hear me?" --expect Yes   a plain socket server
  sockit echo-client 9000 --udp ping --count 10 --interval 0.5   UDP: loss and round-trip times
  sockit echo-client 9000 --connections 200 --duration 10        load: msg/s, p50/p90/p99, errors
  sockit echo-client 9000 --connections 50 --duration 30 --rate 100 --size 1KiB --json
  sockit echo-client 9443 hi --tls --fingerprint 7B:A1:…:E2   pin what echo-server printed
  sockit echo-client localhost:9443 hi --tls --ca cert.pem    trust that certificate (or CA)
  sockit echo-client example.org:9443 hi --tls                the system's CAs
  sockit echo-client 9443 hi --tls --insecure                 encrypted, nothing checked

A reply that ends because the server closed the connection is a complete reply (exit 0); no
reply at all is exit 1. After such a close, the next message opens a new connection.

Load mode (--connections/--duration) verifies every echoed byte and exits 1 on any connect
failure, mismatch or error, so a CI job can gate on it.`,
    )
    .action(async (address: string, messages: string[], opts) => {
      const { runEchoClient } = await import("./lib/echo/client.ts");
      const code = await runEchoClient(address, messages, opts);
      if (code !== EXIT_OK) Deno.exit(code);
    });

  // --- http-serve ----------------------------------------------------------------------
  addListenOptions(
    program
      .command("http-serve")
      .description("serve a folder, one file, or the built-in site over HTTP/1.1")
      .argument("[dir]", "folder (or single file) to serve (default: the built-in site)"),
  )
    .option("--no-listing", "answer 404 for folders without index.html instead of listing them")
    .option("--dotfiles", "serve files and folders whose name starts with '.' (hidden by default)")
    .addOption(
      new Option("--log-format <format>", "access log line format")
        .choices(["common", "combined", "json"]).default("common"),
    )
    .option("--quiet", "no access log")
    .option("--trace", "print every raw request head as escaped bytes")
    .option(
      "--keep-alive-timeout <seconds>",
      "close a keep-alive connection idle this long (0 = never)",
      flag((v) => parseSeconds(v, "--keep-alive-timeout")),
      5,
    )
    .option(
      "--max-body <bytes>",
      "largest request body read (and discarded); more → 413 (e.g. 1MiB)",
      flag((v) => parseByteSize(v, "--max-body")),
    )
    .option(
      "--header-timeout <seconds>",
      "a request head must arrive whole this long after its first byte, else 408 (0 = never)",
      flag((v) => parseSeconds(v, "--header-timeout")),
      10,
    )
    .option(
      "--body-timeout <seconds>",
      "a request body silent this long → 408 and close (0 = never)",
      flag((v) => parseSeconds(v, "--body-timeout")),
      30,
    )
    .option(
      "--write-timeout <seconds>",
      "a client that reads nothing of a response this long is dropped (0 = never)",
      flag((v) => parseSeconds(v, "--write-timeout")),
      30,
    )
    .addOption(maxConnectionsOption("more get 503 + Retry-After"))
    .addOption(shutdownTimeoutOption("responses finish this long, then close the rest"))
    .option(
      "--cache <seconds>",
      "Cache-Control: public, max-age=SECONDS (default: no-cache, browsers revalidate)",
      flag(parseCacheSeconds),
    )
    .option(
      "--compress [codings]",
      "compress text-like answers of 1 KiB or more on the fly: br, zstd, gzip (default: all " +
        "three); pick and set levels with e.g. br=5,gzip=6; off to disable",
    )
    .option(
      "--compress-min <bytes>",
      "smallest body --compress compresses (default 1KiB)",
      flag((v) => parseByteSize(v, "--compress-min")),
    )
    .option("--gzip", "the same as --compress gzip (precompressed .br/.zst/.gz always used)")
    .option("--cors", "allow any origin (Access-Control-Allow-Origin: *) and answer preflights")
    .option(
      "--header <header>",
      "add 'Name: value' to every response (repeatable)",
      (v: string, previous: [string, string][] = []) => [...previous, flag(parseHeaderFlag)(v)],
    )
    .option("--spa", "serve /index.html for missing paths without an extension (client routing)")
    .addOption(tlsCertOption("HTTPS"))
    .addOption(tlsKeyOption())
    .addOption(tlsCertOutOption())
    .option(
      "--auth <user:pass>",
      "require HTTP Basic credentials; USER:PASS or USER:sha256:HEX (repeatable)",
      // Collected raw: runHttpServe checks them, so no error message can echo a password.
      (v: string, previous: string[] = []) => [...previous, v],
    )
    .option(
      "--access <rule>",
      "who may read/write where: WHO@/PATH:ro|rw|none, WHO = empty (anyone), * (any --auth " +
        "user) or user names; e.g. @/:ro alice@/:rw (repeatable; rw turns uploads on)",
      (v: string, previous: string[] = []) => [...previous, v],
    )
    .option(
      "--share <path>",
      "print a signed link (and QR code) to this file or folder under DIR that works " +
        "without the password (repeatable)",
      (v: string, previous: string[] = []) => [...previous, v],
    )
    .option(
      "--share-ttl <duration>",
      "share links expire after this long: 90, 10m, 24h, 7d (default 24h, at most 30d)",
      flag(parseShareTtl),
    )
    .option(
      "--share-uses <n>",
      "a share link allows this many GETs answered 200, then 403 (counted per process)",
      flag((v) => parseIntUpTo(v, MAX_SHARE_USES, "--share-uses")),
    )
    .option(
      "--upload",
      "accept uploads (PUT, the listing's form, drag and drop) and deletes/moves/mkdir",
    )
    .option(
      "--max-upload <bytes>",
      "largest upload with --upload; more → 413 (default 1GiB)",
      flag((v) => parseByteSize(v, "--max-upload")),
    )
    .option("--overwrite", "with --upload, replace existing files (default: 409 Conflict)")
    .option(
      "--webdav",
      "WebDAV (RFC 4918) on the same port: mount as a drive; read-only unless --upload",
    )
    .option("--qr", "print a QR code of the LAN URL at startup, for a phone")
    .option("--metrics", "serve Prometheus metrics at /.well-known/sockit/metrics")
    .option("--clean-urls", "serve /about from about.html when /about does not exist")
    .option(
      "--not-found <file>",
      "page sent with every 404, relative to DIR (default: 404.html when present)",
    )
    .option("--no-not-found", "plain-text 404s, even when DIR has a 404.html")
    .option("--no-http2", "HTTP/1.1 only: no h2 in TLS ALPN, no h2c preface on the plain port")
    .option(
      "--watch",
      "live reload: pages reload (CSS swaps in place) when a file under DIR changes",
    )
    .addOption(workersOption())
    .addHelpText(
      "after",
      `
Files answer Range (206, multipart/byteranges, 416), If-None-Match/If-Modified-Since (304)
and If-Match/If-Unmodified-Since (412); file.br / file.zst / file.gz next to a file are
sent to clients that accept them. Folders list as JSON with ?format=json or Accept: application/json.

Examples:
  sockit http-serve ./public --host 127.0.0.1 --port 8080   this machine only, port 8080
  sockit http-serve . --port 0 --no-listing --dotfiles   any free port; no folder pages; .files
  sockit http-serve ./videos                       seekable video, resumable downloads
  sockit http-serve ./dist --spa --compress --cache 3600   a single-page app
  sockit http-serve ./api --compress br=5,gzip=6 --compress-min 512   chosen codings and levels
  sockit http-serve ./site --gzip                  gzip only (= --compress gzip)
  sockit http-serve ./site --clean-urls            /about answers from about.html
  sockit http-serve ./site --not-found errors/missing.html   a custom 404 page
  sockit http-serve ./site --no-not-found          plain-text 404s, even with a 404.html
  sockit http-serve ./build.iso                    one file: a page at /, the file at /build.iso
  sockit http-serve ./site --watch                 edit a file, the open page follows
  sockit http-serve ./api --cors --header 'X-Frame-Options: DENY' --header 'X-Env: dev'
  sockit http-serve . --tls-cert cert.pem --tls-key key.pem    HTTPS
  sockit http-serve . --tls-cert auto --tls-cert-out cert.pem   HTTPS, a throw-away certificate
  curl --cacert cert.pem https://localhost:8000/      trust it (or pin its key, as printed:
  curl -k --pinnedpubkey 'sha256//…' https://192.168.1.5:8000/   any name, this key only)
  curl --http2-prior-knowledge http://localhost:8000/   HTTP/2 (h2c; over TLS: ALPN h2)
  sockit http-serve . --no-http2                   HTTP/1.1 only
  sockit http-serve . --log-format combined --trace   Apache-style log and raw request heads
  sockit http-serve . --quiet --metrics            no access log; Prometheus metrics instead
  sockit http-serve ./public --workers auto --quiet   every core serves (Linux)
  sockit http-serve . --keep-alive-timeout 30 --header-timeout 10 --body-timeout 30 \\
    --write-timeout 30 --max-connections 500 --shutdown-timeout 5 --max-body 1MiB
  sockit http-serve ./share --auth alice:s3cret --qr   hand files to a phone
  sockit http-serve ./inbox --upload --auth bob:sha256:$(printf %s PASS | sha256sum | cut -c1-64)
  sockit http-serve ./inbox --upload --max-upload 5GiB --overwrite   big uploads, replace files
  sockit http-serve ./share --auth alice:s3cret --access @/:ro --access alice@/:rw
                                                   anyone reads, only alice uploads
  sockit http-serve ./share --auth alice:s3cret --access @/:ro --access alice@/private:ro
                                                   only /private needs a password
  sockit http-serve ./share --auth alice:s3cret --share report.pdf --share-ttl 2h --share-uses 3
                                                   a link (and QR) that works without the password
  curl -u bob:PASS -T report.pdf http://localhost:8000/report.pdf     upload with --upload
  curl -o photos.zip 'http://localhost:8000/photos/?download=zip'   a folder as one .zip (or =tar)
  sockit http-serve ./share --webdav --upload --auth bob:PASS   a network drive (Finder, Windows)
  curl -r 0-99 http://localhost:8000/video.mp4     the first 100 bytes (206 Partial Content)
  curl --compressed -z index.html http://localhost:8000/index.html   br/gzip; 304 unless newer
  curl 'http://localhost:8000/?format=json&sort=size&order=desc'
  curl http://localhost:8000/.well-known/sockit/health   200 ok (no auth, not logged)`,
    )
    .action(async (dir: string | undefined, opts) => {
      const { runHttpServe } = await import("./lib/http/server/serve.ts");
      await runHttpServe(dir, opts);
    });

  // --- completions ---------------------------------------------------------------------
  program
    .command("completions")
    .description("print a shell completion script for sockit's subcommands and flags")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .addHelpText(
      "after",
      `
Install:
  sockit completions bash > ~/.local/share/bash-completion/completions/sockit
  sockit completions zsh > "\${fpath[1]}/_sockit"     then restart zsh
  sockit completions fish > ~/.config/fish/completions/sockit.fish
  source <(sockit completions bash)                  this shell only (bash or zsh)`,
    )
    .action((shell: CompletionShell) => {
      console.log(completionScript(program, { shell }).trimEnd());
    });

  return program;
}

/** Runs the CLI with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  if (args.length === 0) {
    console.log(overview(program));
    return EXIT_OK;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here too, with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      console.error(`sockit: ${err.message} (see 'sockit --help')`);
      return EXIT_USAGE;
    }
    const message = err instanceof Error ? err.message : String(err);
    console.error(`sockit: ${message}`);
    return EXIT_FAILURE;
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  await flushLogs(); // log lines are written asynchronously; bounded wait on a stalled pipe
  Deno.exit(code);
}
