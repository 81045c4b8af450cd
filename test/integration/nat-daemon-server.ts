/**
 * The program the NAT daemon tests run inside their sandboxes (`cnm run -d ... node
 * nat-daemon-server.js NAME tcp:80 udp:5000 ...`): on each port it answers every TCP connection
 * and every UDP datagram with `NAME:PORT PEER\n`, so a probe learns which sandbox and which of its
 * ports answered, and which source address the sandbox saw (masquerade or not).
 *
 * Sockets are dual-stack on `::`: one server answers both families where the sandbox has IPv6.
 * (UDP 53 is taken by the embedded DNS on user networks: use another port.)
 */
import dgram from 'node:dgram';
import net from 'node:net';

const [name, ...specs] = process.argv.slice(2);
if (!name || specs.length === 0) {
  process.stderr.write('usage: nat-daemon-server NAME tcp:PORT|udp:PORT...\n');
  process.exit(2);
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
const plain = (address: string | undefined): string => (address ?? '?').replace(/^::ffff:/, '');

for (const spec of specs) {
  const [proto, portText] = spec.split(':');
  const port = Number(portText);
  if (proto === 'tcp') {
    net
      .createServer((c) => {
        c.on('error', () => undefined); // a probe that only times the handshake resets
        c.end(`${name}:${port} ${plain(c.remoteAddress)}\n`);
      })
      .listen({ host: '::', port });
  } else if (proto === 'udp') {
    const socket = dgram.createSocket('udp6');
    socket.on('message', (_m, peer) => socket.send(`${name}:${port} ${plain(peer.address)}\n`, peer.port, peer.address));
    socket.bind(port, '::');
  } else {
    process.stderr.write(`bad spec ${spec}\n`);
    process.exit(2);
  }
}
