/**
 * Child process of the ws fan-out benchmark: opens `count` connections to the
 * gateway speaking the frame protocol by hand (hello, subscribe, ack), prints
 * READY once every one is subscribed, then GOT <n> once every connection has
 * its delivery. Raw `ws`, so the clients cost the server what any client does.
 */
import { WebSocket } from 'ws';

const [url, countArg, topic] = process.argv.slice(2);
const count = Number(countArg);
const OPEN_AT_ONCE = 200;
let subscribed = 0;
let got = 0;
const sockets: WebSocket[] = [];

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url!, ['hub.v1'], { perMessageDeflate: false });
    sockets.push(ws);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', v: 1 })));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; id?: string; seq?: number };
      if (f.type === 'welcome') {
        ws.send(JSON.stringify({ type: 'subscribe', id: 's', sub: 's', pattern: topic }));
      } else if (f.type === 'ack' && f.id === 's') {
        subscribed++;
        resolve();
      } else if (f.type === 'deliver') {
        ws.send(JSON.stringify({ type: 'ack', seq: f.seq }));
        if (++got === count) process.stdout.write(`GOT ${got}\n`);
      }
    });
  });
}

for (let i = 0; i < count; i += OPEN_AT_ONCE) {
  await Promise.all(Array.from({ length: Math.min(OPEN_AT_ONCE, count - i) }, open));
}
process.stdout.write(`READY ${subscribed}\n`);
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
