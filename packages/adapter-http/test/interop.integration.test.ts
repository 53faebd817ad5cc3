/**
 * Clients we did not write: the `cloudevents` SDK (both modes, and parsing
 * what we emit), curl running the README's examples, Python's urllib
 * signing a webhook from the README alone, the Standard Webhooks reference
 * library verifying what we sign and signing what we verify, an OpenAPI 3.1
 * validator reading our document (and requests built from it accepted).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createEvent,
  createMessage,
  jsonCodec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CloudEvent, HTTP } from 'cloudevents';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpServer, openApiDocument } from '../src/index.js';
import { cleanup, downstream, json, startedHub } from './helpers.js';
import { readmeBlocks } from './readme.js';

const run = promisify(execFile);
const jobs = cleanup();
afterEach(() => jobs.run());

async function receivingHub(extra = {}) {
  const hub = jobs.add(await startedHub({}));
  const events: UnifiedEvent[] = [];
  const messages: UnifiedMessage[] = [];
  await hub.subscribe('orders.**', (e) => {
    events.push(e);
  });
  await hub.onMessage('orders', (m) => {
    messages.push(m);
  });
  await hub.onMessage('pricing', (m: UnifiedMessage<{ qty: number }>) => ({
    price: m.payload.qty * 3,
  }));
  const endpoint = jobs.add(await httpServer({ hub, ...extra }));
  return { hub, endpoint, events, messages };
}

describe('I1 CloudEvents SDK', () => {
  it('events the SDK posts in binary and structured mode are accepted', async () => {
    const { endpoint, events } = await receivingHub();
    const ce = (id: string) =>
      new CloudEvent({
        id,
        source: '/shop',
        type: 'orders.created',
        data: { sku: id },
        datacontenttype: 'application/json',
      });
    for (const [mode, message] of [
      ['binary', HTTP.binary(ce('b-1'))],
      ['structured', HTTP.structured(ce('s-1'))],
    ] as const) {
      const res = await fetch(`${endpoint.url}/events`, {
        method: 'POST',
        headers: message.headers as Record<string, string>,
        body: message.body as string,
      });
      expect(res.status, `${mode}: ${await res.clone().text()}`).toBe(202);
    }
    await expect.poll(() => events.map((e) => e.id).sort()).toEqual(['b-1', 's-1']);
    expect(events.find((e) => e.id === 'b-1')).toMatchObject({
      topic: 'orders.created',
      source: '/shop',
      data: { sku: 'b-1' },
    });
  });

  it('what the adapter emits parses in the SDK, in both modes', async () => {
    const parsed: CloudEvent[] = [];
    const down = jobs.add(
      await downstream((r, res) => {
        parsed.push(HTTP.toEvent({ headers: r.headers, body: r.body.toString() }) as CloudEvent);
        json(res, 200, {});
      }),
    );
    const hub = jobs.add(
      await startedHub({
        adapters: [
          http({
            allowPrivateNetwork: true,
            routes: [
              { match: 'bin.*', url: `${down.url}/b`, body: 'cloudevents-binary' },
              { match: 'str.*', url: `${down.url}/s`, body: 'cloudevents-structured' },
            ],
          }),
        ],
      }),
    );
    const a = createEvent({ source: 'shop', topic: 'bin.created', data: { n: 1 } });
    const b = createMessage({ source: 'shop', destination: 'str.create', payload: { n: 2 } });
    await hub.publish(a);
    await hub.send(b);
    expect(parsed).toHaveLength(2);
    for (const ce of parsed) expect(ce.validate()).toBe(true);
    expect(parsed[0]).toMatchObject({ id: a.id, specversion: '1.0', data: { n: 1 } });
    expect(parsed[1]).toMatchObject({ id: b.id, data: { n: 2 } });
  });
});

describe('I4 plain clients from the README', () => {
  it("the README's curl examples run against a live endpoint", async () => {
    const { endpoint, messages, events } = await receivingHub();
    const blocks = readmeBlocks('sh').filter((b) => b.includes('curl'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const outputs: string[] = [];
    for (const block of blocks) {
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', block], {
        env: { ...process.env, HUB: endpoint.url },
        timeout: 10_000,
      });
      outputs.push(stdout);
    }
    expect(JSON.parse(outputs[0]!)).toMatchObject({ accepted: true });
    expect(JSON.parse(outputs[1]!)).toEqual({ price: 15 });
    expect(JSON.parse(outputs[2]!)).toMatchObject({ accepted: true, id: 'evt-1' });
    expect(JSON.parse(outputs[3]!)).toMatchObject({ status: 'ready' });
    await expect.poll(() => messages.length + events.length).toBe(2);
  });

  it("Python's urllib signs a webhook from the README alone; the endpoint accepts it and refuses an unsigned post", async () => {
    const secret = `whsec_${Buffer.from('python-interop-key-32-bytes-long').toString('base64')}`;
    const { endpoint, messages } = await receivingHub({ webhookSecrets: [secret] });
    const [script] = readmeBlocks('python');
    expect(script).toBeDefined();
    const { stdout } = await run('python3', ['-c', script!], {
      env: { ...process.env, HUB: endpoint.url, WEBHOOK_SECRET: secret },
      timeout: 10_000,
    });
    expect(stdout).toMatch(/^202 /);
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]!.payload).toEqual({ sku: 'py-1' });
    // unsigned: refused
    const unsigned = await fetch(`${endpoint.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"destination":"orders","payload":1}',
    });
    expect(unsigned.status).toBe(401);
  });
});

describe('I5 Standard Webhooks reference library (standardwebhooks)', () => {
  const SECRET = `whsec_${Buffer.from('reference-library-key-of-32-byte').toString('base64')}`;

  it('verifies every call the adapter signs, retries included; a changed byte fails it', async () => {
    const verified: unknown[] = [];
    const failures: string[] = [];
    const down = jobs.add(
      await downstream((r, res, n) => {
        try {
          verified.push(new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>));
        } catch (err) {
          failures.push((err as Error).message);
        }
        // The first call fails with 503: the retry must be signed as well.
        json(res, n === 1 ? 503 : 202, {});
      }),
    );
    const hub = jobs.add(
      await startedHub({
        sendRetry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
        adapters: [
          http({
            allowPrivateNetwork: true,
            signingSecret: SECRET,
            routes: [{ match: 'orders', url: `${down.url}/hook`, body: 'payload' }],
          }),
        ],
      }),
    );
    const m = createMessage({ source: 'shop', destination: 'orders', payload: { sku: 'sw-1' } });
    await hub.send(m);
    expect(failures).toEqual([]);
    expect(verified).toEqual([{ sku: 'sw-1' }, { sku: 'sw-1' }]);
    expect(down.received.map((r) => r.headers['webhook-id'])).toEqual([m.id, m.id]);
    const [first] = down.received;
    const tampered = Buffer.from(first!.body.toString().replace('sw-1', 'sw-2'));
    expect(() =>
      new Webhook(SECRET).verify(tampered, first!.headers as Record<string, string>),
    ).toThrow();
  });

  it('the endpoint accepts what the library signs, and refuses the same id again', async () => {
    const { endpoint, messages } = await receivingHub({ webhookSecrets: [SECRET] });
    const body = JSON.stringify({ destination: 'orders', payload: { sku: 'sw-in' } });
    const post = (id: string) =>
      fetch(`${endpoint.url}/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': new Webhook(SECRET).sign(id, new Date(), body),
        },
        body,
      });
    const ok = await post('msg_ref_1');
    expect(ok.status).toBe(202);
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]!.payload).toEqual({ sku: 'sw-in' });
    const replay = await post('msg_ref_1');
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ code: 'HUB_AUTH_FAILED', field: 'webhook-id' });
  });
});

describe('OpenAPI 3.1 document', () => {
  it('validates with an OpenAPI validator, is served, and requests built from it are accepted', async () => {
    const { endpoint, messages } = await receivingHub();
    const served = await (await fetch(`${endpoint.url}/openapi.json`)).json();
    expect(served).toEqual(openApiDocument(''));
    const validator = new Validator();
    const result = await validator.validate(served as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');

    // The request body schema of POST /messages, checked by a JSON Schema 2020-12 validator.
    const doc = served as {
      components: { schemas: Record<string, object> };
      paths: Record<
        string,
        Record<string, { requestBody: { content: Record<string, { schema: object }> } }>
      >;
    };
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'doc', components: doc.components } as object);
    const bodySchema = JSON.parse(
      JSON.stringify(
        doc.paths['/messages']!.post!.requestBody.content['application/json']!.schema,
      ).replaceAll('"#/components', '"doc#/components'),
    );
    const check = ajv.compile(bodySchema);

    // Built from the schema: the required fields of ShortMessage, and a whole envelope.
    const short = doc.components.schemas.ShortMessage as { required: string[] };
    const fromSchema = Object.fromEntries(
      short.required.map((k) => [k, k === 'destination' ? 'orders' : { from: 'schema' }]),
    );
    const whole = JSON.parse(
      jsonCodec.encode(
        createMessage({ source: 'openapi', destination: 'orders', payload: { n: 1 } }),
      ),
    );
    const batch = [fromSchema, whole].map((x, i) => (i === 1 ? { ...x, id: `${x.id}b` } : x));
    for (const body of [fromSchema, whole, batch]) {
      expect(check(body), JSON.stringify(check.errors)).toBe(true);
      const res = await fetch(`${endpoint.url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(202);
    }
    // and what the schema refuses, the endpoint refuses too
    const bad = { destination: 'orders', payload: 1, version: 1 };
    expect(check(bad)).toBe(false);
    expect(
      (
        await fetch(`${endpoint.url}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(bad),
        })
      ).status,
    ).toBe(400);
    await expect.poll(() => messages.length).toBe(4);
  });
});
