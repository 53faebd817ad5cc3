// Writes schema/envelope.schema.json from the built package (run `pnpm gen:schema`).
// test/schema.test.ts fails when the committed file and the builder disagree.
import { writeFileSync } from 'node:fs';
import { buildEnvelopeSchema } from '../dist/index.js';

const target = new URL('../schema/envelope.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(buildEnvelopeSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
