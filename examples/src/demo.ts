/**
 * `pnpm demo`: runs every example on the embedded in-memory transport and
 * shows what flows. No server needed.
 */
import { main as broadcast } from './broadcast.js';
import { main as customAdapter } from './custom-adapter.js';
import { main as events } from './events.js';
import { main as heartbeats } from './heartbeats.js';
import { main as requestReply } from './request-reply.js';
import { main as tasks } from './task-distribution.js';

const examples: Array<[string, (log: (line: string) => void) => Promise<unknown>]> = [
  ['1. Task distribution with guaranteed delivery', tasks],
  ['2. Real-time updates (broadcast notification)', broadcast],
  ['3. Event-driven communication (topic patterns)', events],
  ['4. Agent coordination (heartbeats)', heartbeats],
  ['5. Request / reply', requestReply],
  ['6. A custom protocol adapter', customAdapter],
];

const started = performance.now();
for (const [title, run] of examples) {
  console.log(`\n== ${title}`);
  await run((line) => console.log(`   ${line}`));
}
console.log(
  `\nAll ${examples.length} examples ran in ${(performance.now() - started).toFixed(0)} ms.`,
);
