import { attachIdentity, type Hub, runAs, type Unsubscribe } from '@hub/core';
import { fromCloudEvent, type HubError, toCloudEvent, type UnifiedEvent } from '@hub/protocol';
import { CloseCode } from '../protocol/codes.js';
import { type Connection, identityOf } from './connection.js';

/**
 * The CloudEvents WebSocket binding (subprotocol `cloudevents.json`): every
 * text frame is one structured-mode CloudEvent. Frames from the client are
 * published (or sent, for `hubkind: "message"`) on the hub; events matching the
 * `subscribe` query parameters go to the client. The binding has no
 * acknowledgements, so this is best-effort in both directions; a frame that
 * is not a CloudEvent closes the connection with 1007.
 */
export function serveCloudEvents(
  hub: Hub,
  conn: Connection,
  url: URL,
  allowed: (verb: 'send' | 'subscribe', address: string, kind?: 'message' | 'event') => boolean,
  refused: (err: unknown) => void,
): void {
  if (conn.helloTimer !== undefined) clearTimeout(conn.helloTimer);
  conn.helloTimer = undefined;
  const offs: Array<Promise<Unsubscribe>> = [];
  for (const pattern of url.searchParams.getAll('subscribe')) {
    if (!allowed('subscribe', pattern)) continue;
    const off = runAs(identityOf(conn), () =>
      hub.subscribe(pattern, (event: UnifiedEvent) => {
        conn.sendText(JSON.stringify(toCloudEvent(event)));
      }),
    );
    off.catch(refused);
    offs.push(off);
  }
  conn.socket.on('close', () => {
    for (const off of offs) off.then((stop) => stop()).catch(() => {});
  });
  conn.onText = (text) => {
    let env: ReturnType<typeof fromCloudEvent>;
    try {
      env = fromCloudEvent(JSON.parse(text));
    } catch (err) {
      refused(err);
      conn.disconnect(CloseCode.INVALID_DATA, `not a CloudEvent: ${(err as Error).message}`);
      return;
    }
    const address = env.kind === 'message' ? env.destination : env.topic;
    if (!allowed('send', address, env.kind)) return;
    attachIdentity(env, identityOf(conn));
    const sent = env.kind === 'message' ? hub.send(env) : hub.publish(env);
    sent.catch((err: HubError) => refused(err));
  };
}
