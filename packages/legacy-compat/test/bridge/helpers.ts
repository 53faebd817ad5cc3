import { redis } from '@hub/adapter-redis';
import { createHub, type Hub, silentLogger } from '@hub/core';

let seq = 0;

/** A started hub on `url` with its own key prefix, so tests never see each other's streams. */
export async function startHub(url: string, prefix = `t${process.pid}x${++seq}`): Promise<Hub> {
  const hub = createHub({
    name: prefix,
    logger: silentLogger,
    adapters: [redis({ url, keyPrefix: prefix })],
  });
  await hub.start();
  return hub;
}
