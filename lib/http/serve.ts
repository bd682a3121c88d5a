/** http-serve (placeholder until implemented). @module */
export function runHttpServe(
  _dir: string | undefined,
  _opts: Record<string, unknown>,
): Promise<void> {
  throw new Error("http-serve is not implemented yet");
}
