// Baseline child for the idle-RSS scenario: an empty process, measured the same way as rss-hub.ts.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
await new Promise((r) => setTimeout(r, 300));
gc?.();
const m = process.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed }));
