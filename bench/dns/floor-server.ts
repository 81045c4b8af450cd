/**
 * Node's floor for a UDP DNS server: the least a correct server can do per query with `dgram`
 * (echo the header and question, append one fixed A record). Whatever cnm's resolver costs
 * beyond this is its own work.
 *   node dist/bench/dns/floor-server.js ADDRESS
 */
import dgram from 'node:dgram';

const RECORD = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 10, 99, 0, 2]);

const [address = '127.0.0.12'] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  let end = 12;
  while (end < msg.length && msg[end] !== 0) end += msg[end]! + 1;
  end += 5;
  if (end > msg.length) return;
  const out = Buffer.allocUnsafe(end + RECORD.length);
  msg.copy(out, 0, 0, end);
  out[2] = 0x80 | (msg[2]! & 0x01);
  out[3] = 0x80;
  out.writeUInt16BE(1, 6);
  out.writeUInt32BE(0, 8);
  RECORD.copy(out, end);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(53, address, () => console.log(JSON.stringify({ ready: true, pid: process.pid })));
