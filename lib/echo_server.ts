/** TCP echo server (placeholder until implemented). @module */
export function runEchoServer(_opts: Record<string, unknown>): Promise<void> {
  throw new Error("echo-server is not implemented yet");
}
