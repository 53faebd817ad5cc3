/**
 * Where ws.one-way's CPU goes: four senders of the same flood in this one
 * process, in alternating rounds (the order reversed every other round), CPU
 * µs per message each, medians printed:
 *   hub     hub.send on a client hub over wsClient (what ws.one-way measures)
 *   direct  the same sends handed to the wsClient adapter itself (no client hub pipeline)
 *   rawb    raw ws, the texts of one turn as one JSON-array frame (ws.one-way's second baseline)
 *   raw     raw ws, one ws.send per message (ws.one-way's baseline)
 * Every round waits until its messages reached the server's handler.
 *   node --import tsx --conditions=@hub/source src/ws-split.ts [rounds=10]
 */
import { Arrivals, payload300, stats } from './harness.js';
import { message, oneWaySides } from './ws.js';

const N = 20_000;
/** Sends in flight together, as in ws.one-way. */
const BATCH = 1_000;
const rounds = Number(process.argv[2] ?? 10);

const arrivals = new Arrivals();
const { hub, raw, batcher } = await oneWaySides(arrivals);
payload300(); // the payload builder warm before the first round

type Side = 'hub' | 'direct' | 'rawb' | 'raw';
const SIDES: readonly Side[] = ['hub', 'direct', 'rawb', 'raw'];

async function round(side: Side): Promise<number> {
  const goal = arrivals.count + N;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < N; i += BATCH) {
    if (side === 'hub' || side === 'direct') {
      const sender = side === 'hub' ? hub.client : hub.adapter;
      const sends: Promise<unknown>[] = [];
      for (let k = 0; k < BATCH; k++) sends.push(sender.send(message(i + k)));
      await Promise.all(sends);
    } else {
      for (let k = 0; k < BATCH; k++) {
        const text = JSON.stringify(message(i + k));
        if (side === 'raw') raw.client.send(text);
        else batcher.send(text);
      }
      // let the server read between bursts, as a flood awaiting its sends does
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  if (!(await arrivals.until(goal, 20_000))) throw new Error(`${side}: messages missing`);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / N;
}

try {
  for (const side of SIDES) await round(side); // warm-up
  const cpu: Record<Side, number[]> = { hub: [], direct: [], rawb: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? SIDES : [...SIDES].reverse())
      cpu[side].push(await round(side));
  }
  for (const side of SIDES) {
    const s = stats(cpu[side]);
    console.log(
      `${side.padEnd(6)} CPU ${s.median.toFixed(2)} µs/msg (median of ${rounds}; ${cpu[side].map((v) => v.toFixed(1)).join(' ')})`,
    );
  }
} finally {
  await hub.close();
  await raw.close();
}
