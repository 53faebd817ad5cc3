import { createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { encodeFrame, parseClientFrame, parseServerFrame, WsErrorCode } from '../../src/index.js';
import {
  BATCH_MAX_FRAMES,
  clientFrameOf,
  decodeFrames,
  encodeBatch,
  serverFrameOf,
} from '../../src/protocol/frames.js';

describe('frames', () => {
  it('round-trips a message frame, binary payload included', () => {
    const m = createMessage({
      source: 'a',
      destination: 'b',
      payload: { bytes: new Uint8Array([1, 2, 255]), n: 1 },
    });
    const back = parseClientFrame(encodeFrame({ type: 'message', id: m.id, envelope: m }));
    expect(back).toMatchObject({ type: 'message', id: m.id });
    if (back.type !== 'message') throw new Error('kind');
    expect(back.envelope.kind === 'message' && back.envelope.payload).toEqual(m.payload);
  });

  it.each([
    ['not json', /not valid JSON/, undefined],
    ['[1]', /must be a JSON object/, undefined],
    ['{"type":"nope","id":"x"}', /'type' is unknown/, 'x'],
    ['{"type":"ack","seq":0}', /'seq' must be a positive integer/, undefined],
    ['{"type":"serve","id":"s"}', /'sub'/, 's'],
    ['{"type":"subscribe","id":"s","sub":"1","pattern":"a","prefetch":0}', /'prefetch'/, 's'],
    [
      '{"type":"serve","id":"s","sub":"1","address":"a","guarantees":["sometimes"]}',
      /'guarantees'/,
      's',
    ],
    [
      '{"type":"subscribe","id":"s","sub":"1","pattern":"a","startFrom":"first"}',
      /'startFrom'/,
      's',
    ],
    [
      '{"type":"subscribe","id":"s","sub":"1","pattern":"a","startFrom":{"id":"x"}}',
      /'startFrom'/,
      's',
    ],
    ['{"type":"hello","v":"1"}', /'v' must be an integer/, undefined],
    ['{"type":"message","id":"m","envelope":{"kind":"message"}}', /'envelope'/, 'm'],
  ])('refuses %s naming the field', (text, why, id) => {
    try {
      parseClientFrame(text);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(why);
      expect((err as { frameId?: string }).frameId).toBe(id);
      expect((err as { code: string }).code).toMatch(/^HUB_/);
    }
  });

  it('carries a durable subscription start position and the server offering durable topics', () => {
    for (const startFrom of ['last', 'now', { id: '1-0' }, { time: 5 }] as const) {
      const text = encodeFrame({
        type: 'subscribe',
        id: 's',
        sub: '1',
        pattern: 'a.*',
        group: 'g',
        startFrom,
      });
      expect(parseClientFrame(text)).toEqual({
        type: 'subscribe',
        id: 's',
        sub: '1',
        pattern: 'a.*',
        group: 'g',
        startFrom,
      });
    }
    const welcome = {
      type: 'welcome',
      v: 1,
      session: 'x',
      resumed: false,
      window: 8,
      pingIntervalMs: 1,
    } as const;
    expect(parseServerFrame(JSON.stringify({ ...welcome, durableTopics: true }))).toEqual({
      ...welcome,
      durableTopics: true,
    });
    expect(parseServerFrame(JSON.stringify(welcome))).toEqual(welcome);
  });

  it('an envelope whose id is not the frame id is refused', () => {
    const m = createMessage({ source: 'a', destination: 'b', payload: 1 });
    const text = encodeFrame({ type: 'message', id: m.id, envelope: m }).replace(
      `"id":"${m.id}","envelope"`,
      '"id":"other","envelope"',
    );
    expect(() => parseClientFrame(text)).toThrow(/must equal envelope.id/);
  });

  it('decodes server frames', () => {
    expect(parseServerFrame('{"type":"error","code":"HUB_WS_RESYNC","message":"gone"}')).toEqual({
      type: 'error',
      code: WsErrorCode.RESYNC,
      message: 'gone',
    });
  });

  it('a batch carries encoded frames as they are; each element decodes like a lone frame', () => {
    const m = createMessage({ source: 'a', destination: 'b', payload: 1 });
    const one = encodeFrame({ type: 'message', id: m.id, envelope: m });
    const text = encodeBatch([one, '{"type":"ping"}']);
    const objs = decodeFrames(text);
    expect(objs.map((o) => clientFrameOf(o).type)).toEqual(['message', 'ping']);
    expect(decodeFrames(one)).toHaveLength(1);
  });

  it.each([
    ['{"type":"batch"}', /'frames' must be an array of 1-4096 frames, got nothing/],
    ['{"type":"batch","frames":[]}', /'frames' must be an array of 1-4096 frames, got 0 elements/],
    ['{"type":"batch","frames":[1]}', /'frames' must hold JSON objects/],
    [
      `{"type":"batch","frames":[${Array(BATCH_MAX_FRAMES + 1)
        .fill('{"type":"ping"}')
        .join(',')}]}`,
      /got 4097 elements/,
    ],
  ])('refuses the batch %# naming the field', (text, why) => {
    expect(() => decodeFrames(text)).toThrow(why);
  });

  it('a batch inside a batch is an unknown frame type', () => {
    const [inner] = decodeFrames('{"type":"batch","frames":[{"type":"batch","frames":[]}]}');
    expect(() => clientFrameOf(inner!)).toThrow(/'type' is unknown/);
  });

  it('hello and welcome carry the features each side speaks, and welcome the server limits', () => {
    expect(parseClientFrame('{"type":"hello","v":1,"features":["batch","later",3]}')).toEqual({
      type: 'hello',
      v: 1,
      features: ['batch', 'later'],
    });
    expect(
      serverFrameOf({
        type: 'welcome',
        v: 1,
        session: 's',
        resumed: false,
        window: 8,
        pingIntervalMs: 100,
        features: ['batch'],
        maxPayload: 4096,
        durableTopics: true,
      }),
    ).toMatchObject({ features: ['batch'], maxPayload: 4096, durableTopics: true });
  });
});
