/**
 * A minimal Node.js `net` echo server: the peer a Node user would write in five lines.
 * Used by `deno task bench` (bench/run.ts).
 *
 *   node bench/node_echo.mjs 127.0.0.1 9000   # prints "listening on tcp://127.0.0.1:9000"
 */
import net from "node:net";

const [host = "127.0.0.1", port = "0"] = process.argv.slice(2);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy());
  socket.pipe(socket);
});
server.listen(Number(port), host, () => {
  const address = server.address();
  console.log(`listening on tcp://${address.address}:${address.port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
