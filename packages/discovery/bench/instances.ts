// A fleet of HTTP servers on 127.0.0.1 in one process of its own, so that the load generator and
// balancer under test do not share an event loop with them.
//   node bench/instances.ts <delayMs>,<delayMs>,…   → prints "listening <port>,<port>,…"
// Each answers after its delay (0 = at once) with its index in `x-instance`. A line "kill <i>" on
// stdin closes server i and destroys its sockets (requests in flight see a reset), as a killed
// process would.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';

const delays = (process.argv[2] ?? '0').split(',').map(Number);
const servers: { server: Server; sockets: Set<Socket> }[] = [];

for (const [index, delay] of delays.entries()) {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-instance': String(index) });
      res.end('ok');
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ server, sockets });
}

const ports = servers.map(({ server }) => (server.address() as AddressInfo).port);
console.log(`listening ${ports.join(',')}`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const match = /^kill (\d+)$/.exec(line.trim());
  if (!match) return;
  const target = servers[Number(match[1])];
  if (!target) return;
  target.server.close();
  for (const socket of target.sockets) socket.destroy();
  console.log(`killed ${match[1]}`);
});
process.on('SIGTERM', () => process.exit(0));
