/** TCP echo client (placeholder until implemented). @module */
export function runEchoClient(
  _address: string,
  _messages: string[],
  _opts: Record<string, unknown>,
): Promise<number> {
  throw new Error("echo-client is not implemented yet");
}
