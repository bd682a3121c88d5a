/**
 * Drives headless Chromium for the browser tests: find the binary, launch it with remote
 * debugging on 127.0.0.1 and a throwaway profile, and talk the DevTools protocol over its
 * WebSocket (commands, events, waiting for one event). Needs Debian's `chromium`.
 *
 * ```ts
 * await chromiumTest("my_test", "a page loads", async (chromium) => {
 *   await using browser = await launchChromium(chromium);
 *   const devtools = await DevTools.connect(browser.devtoolsUrl);
 *   const sessionId = await devtools.openPage();
 *   await devtools.send("Page.enable", {}, sessionId);
 *   await devtools.navigate(sessionId, "http://127.0.0.1:8000/");
 *   console.log(await devtools.evaluate<string>(sessionId, "document.title"));
 *   await devtools.close();
 * });
 * ```
 *
 * @module
 */
import { commandExists } from "./helpers.ts";

/** Names the browser goes by on Debian and elsewhere, tried in order. */
export const CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome"];
/** Upper bound for the browser to start, and for any one event a test waits for. */
export const BROWSER_TIMEOUT_MS = 30_000;

/** The flags from issue 3: headless, no sandbox (root in CI), nothing that phones home. */
export function chromiumArgs(profileDir: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profileDir}`,
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "about:blank",
  ];
}

/** The first of {@link CHROMIUM_NAMES} that runs, or undefined. */
export async function findChromium(): Promise<string | undefined> {
  for (const name of CHROMIUM_NAMES) if (await commandExists(name)) return name;
  return undefined;
}

/** A minimal Chrome DevTools Protocol client over the browser's WebSocket. */
export class DevTools {
  #ws: WebSocket;
  #nextId = 0;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #listeners: ((event: { method: string; params: Record<string, unknown> }) => void)[] = [];
  #closed: Promise<void>;
  /** Every event received so far, in order. */
  readonly events: { method: string; params: Record<string, unknown> }[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (e) => {
      const message = JSON.parse(e.data);
      if (message.id !== undefined) {
        const waiter = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`CDP ${JSON.stringify(message.error)}`));
        else waiter?.resolve(message.result);
      } else {
        this.events.push(message);
        for (const listener of [...this.#listeners]) listener(message);
      }
    });
  }

  static async connect(url: string): Promise<DevTools> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)));
    });
    return new DevTools(ws);
  }

  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Resolves with the first event for which `match` returns true. */
  waitFor(
    match: (event: { method: string; params: Record<string, unknown> }) => boolean,
    what: string,
    timeoutMs = BROWSER_TIMEOUT_MS,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.splice(this.#listeners.indexOf(listener), 1);
        reject(new Error(`browser: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (event: { method: string; params: Record<string, unknown> }) => {
        if (!match(event)) return;
        clearTimeout(timer);
        this.#listeners.splice(this.#listeners.indexOf(listener), 1);
        resolve(event.params);
      };
      this.#listeners.push(listener);
    });
  }

  /** Opens a blank tab and attaches to it; resolves with the session id to send page commands to. */
  async openPage(): Promise<string> {
    const { targetId } = await this.send<{ targetId: string }>("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    return sessionId;
  }

  /** Navigates the page of `sessionId` to `url` and waits for its load event (needs Page.enable). */
  async navigate(sessionId: string, url: string): Promise<void> {
    const loaded = this.waitFor((e) => e.method === "Page.loadEventFired", `load of ${url}`);
    await this.send("Page.navigate", { url }, sessionId);
    await loaded;
  }

  /** Runs `expression` in the page (awaiting a promise) and returns its value; throws if it threw. */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const out = await this.send<{
      result: { value: unknown };
      exceptionDetails?: { exception?: unknown };
    }>("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (out.exceptionDetails) {
      throw new Error(`page script failed: ${JSON.stringify(out.exceptionDetails.exception)}`);
    }
    return out.result.value as T;
  }

  async close(): Promise<void> {
    this.#ws.close();
    await this.#closed;
  }
}

/**
 * Registers a test that needs Chromium: `fn` gets the binary. Without one the test is
 * registered as ignored and `testFile` prints why, so a skipped browser test is never silent.
 */
export async function chromiumTest(
  testFile: string,
  name: string,
  fn: (chromium: string) => Promise<void>,
): Promise<void> {
  const chromium = await findChromium();
  if (chromium === undefined) {
    console.log(
      `${testFile}: ignored: no Chromium found (tried ${CHROMIUM_NAMES.join(", ")}); ` +
        "install Debian's chromium (.ci/run does) to run it",
    );
    Deno.test({ name, ignore: true, fn() {} });
  } else {
    Deno.test({ name, fn: () => fn(chromium) });
  }
}

/** Headless Chromium with remote debugging; resolves once its DevTools URL is known. */
export async function launchChromium(binary: string): Promise<
  AsyncDisposable & { devtoolsUrl: string; stderr: () => string }
> {
  const profileDir = await Deno.makeTempDir({ prefix: "sockit-chromium-" });
  const child = new Deno.Command(binary, {
    args: chromiumArgs(profileDir),
    // Chromium puts its SingletonSocket dir (org.chromium.Chromium.XXXXXX) in TMPDIR and leaves
    // it behind; inside the profile it is removed with the profile.
    env: { TMPDIR: profileDir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  const { promise: announced, resolve: announce } = Promise.withResolvers<string>();
  // Keep draining stderr for the browser's whole life: a full pipe would block it.
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderrText += decoder.decode(chunk, { stream: true });
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderrText);
      if (m) announce(m[1]);
    }
  })();
  const dispose = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await pump;
    await Deno.remove(profileDir, { recursive: true }).catch(() => {});
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const devtoolsUrl = await Promise.race([
      announced,
      child.status.then((s) => {
        throw new Error(`chromium exited (${s.code}) before DevTools came up:\n${stderrText}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`chromium printed no DevTools URL:\n${stderrText}`)),
          BROWSER_TIMEOUT_MS,
        );
      }),
    ]);
    return { devtoolsUrl, stderr: () => stderrText, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
