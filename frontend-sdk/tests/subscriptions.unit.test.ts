// The SDK's subscription logic against a protocol-level fake server (tests/support/fake-server.ts):
// resume after reconnect, dedupe by cursor, token refresh on 4403, error mapping.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import {
  CasegraphError,
  ConsoleRequestEventsDocument,
  ConsoleSlaAlertsDocument,
  createCasegraphClient,
  type CasegraphClient,
  type CasegraphClientOptions,
  type RequestEventFieldsFragment,
} from '../src/index.js';
import { startFakeServer, type FakeServer } from './support/fake-server.js';
import { sleep, waitFor } from './support/live.js';

const GOOD = 'good-token';
let server: FakeServer | undefined;
const clients: CasegraphClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
  await server?.close();
  server = undefined;
});

function client(fake: FakeServer, options: Partial<CasegraphClientOptions> = {}): CasegraphClient {
  const c = createCasegraphClient({
    url: 'http://127.0.0.1:9/graphql', // HTTP is not used here
    wsUrl: fake.url,
    getToken: () => GOOD,
    webSocketImpl: WebSocket,
    retryWait: () => sleep(20),
    ...options,
  });
  clients.push(c);
  return c;
}

function collect(c: CasegraphClient, after?: string) {
  const events: RequestEventFieldsFragment[] = [];
  const errors: CasegraphError[] = [];
  const sub = c.subscribe(
    ConsoleRequestEventsDocument,
    { filter: { serviceRequestId: 'ServiceRequest:1' }, ...(after ? { after } : {}) },
    { onEvent: (d) => events.push(d.requestEvents), onError: (e) => errors.push(e) },
  );
  return { events, errors, sub, bodies: () => events.map((e) => e.comment?.body) };
}

describe('resumable subscriptions (fake server)', () => {
  it('re-subscribes with after: <last cursor> and gets exactly the missed events', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    let openGate: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    const c = client(server, { retryWait: () => gate });
    const { events, errors, sub, bodies } = collect(c);
    await waitFor(() => server!.subscribes.length === 1, 5_000, 'the subscription');
    await sleep(50);
    const first = server.publish('one');
    await waitFor(() => events.length === 1, 5_000, 'event one');

    gate = new Promise((r) => (openGate = r));
    c.terminate();
    server.publish('two');
    server.publish('three');
    await sleep(100);
    expect(bodies()).toEqual(['one']);

    openGate();
    await waitFor(() => events.length === 3, 5_000, 'the replay');
    server.publish('four');
    await waitFor(() => events.length === 4, 5_000, 'the live event');
    await sleep(100);

    expect(errors).toEqual([]);
    expect(bodies()).toEqual(['one', 'two', 'three', 'four']);
    expect(server.subscribes.map((v) => v['after'])).toEqual([undefined, first.cursor]);
    expect(sub.lastCursor).toBe(events[3]?.cursor);
  });

  it('resumes after the server drops the connection (network failure)', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const c = client(server);
    const { events, errors, bodies } = collect(c);
    await waitFor(() => server!.subscribes.length === 1, 5_000, 'the subscription');
    await sleep(50);
    server.publish('a');
    await waitFor(() => events.length === 1, 5_000, 'event a');
    server.dropAll();
    server.publish('b');
    await waitFor(() => events.length === 2, 5_000, 'event b after the reconnect');
    server.publish('c');
    await waitFor(() => events.length === 3, 5_000, 'event c');
    expect(errors).toEqual([]);
    expect(bodies()).toEqual(['a', 'b', 'c']);
    expect(server.subscribes.length).toBe(2);
  });

  it('drops events whose cursor was already delivered (overlapping replay)', async () => {
    server = await startFakeServer({ validTokens: [GOOD], overlappingReplay: true });
    const c = client(server);
    const { events, bodies } = collect(c);
    await waitFor(() => server!.subscribes.length === 1, 5_000, 'the subscription');
    await sleep(50);
    server.publish('x');
    await waitFor(() => events.length === 1, 5_000, 'event x');
    server.dropAll();
    server.publish('y');
    await waitFor(() => events.length >= 2, 5_000, 'event y');
    await sleep(100);
    expect(bodies()).toEqual(['x', 'y']);
  });

  it('starts from a stored cursor passed as after', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const stored = server.publish('old').cursor;
    server.publish('new 1');
    server.publish('new 2');
    const { events, bodies } = collect(client(server), stored);
    await waitFor(() => events.length === 2, 5_000, 'the replay');
    expect(bodies()).toEqual(['new 1', 'new 2']);
  });

  it('on 4403 asks getToken for a fresh token and reconnects with it', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const asked: Array<boolean | undefined> = [];
    const c = client(server, {
      getToken: (o) => {
        asked.push(o?.forceRefresh);
        return o?.forceRefresh ? GOOD : 'stale';
      },
    });
    const { events, errors } = collect(c);
    await waitFor(() => server!.subscribes.length === 1, 5_000, 'the subscription');
    await sleep(50);
    server.publish('hello');
    await waitFor(() => events.length === 1, 5_000, 'the event');
    expect(errors).toEqual([]);
    expect(asked).toEqual([undefined, true]);
    expect(server.tokensPresented).toEqual(['Bearer stale', `Bearer ${GOOD}`]);
  });

  it('gives up with UNAUTHENTICATED when refreshed tokens keep being refused', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const c = client(server, { getToken: () => 'bad', maxAuthRetries: 2 });
    const { errors } = collect(c);
    await waitFor(() => errors.length === 1, 5_000, 'the error');
    expect(errors[0]?.code).toBe('UNAUTHENTICATED');
    expect(errors[0]?.closeCode).toBe(4403);
    expect(server.tokensPresented).toHaveLength(3);
  });

  it('maps a graphql-transport-ws error message to CasegraphError with its code', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const errors: CasegraphError[] = [];
    client(server).subscribe(ConsoleSlaAlertsDocument, {}, { onEvent: () => {}, onError: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1, 5_000, 'the error');
    expect(errors[0]).toBeInstanceOf(CasegraphError);
    expect(errors[0]?.code).toBe('FORBIDDEN');
  });

  it('a throwing onEvent is reported and the stream goes on', async () => {
    server = await startFakeServer({ validTokens: [GOOD] });
    const seen: string[] = [];
    const errors: CasegraphError[] = [];
    client(server).subscribe(
      ConsoleRequestEventsDocument,
      {},
      {
        onEvent: (d) => {
          seen.push(d.requestEvents.comment?.body ?? '');
          if (seen.length === 1) throw new Error('boom');
        },
        onError: (e) => errors.push(e),
      },
    );
    await waitFor(() => server!.subscribes.length === 1, 5_000, 'the subscription');
    await sleep(50);
    server.publish('1');
    server.publish('2');
    await waitFor(() => seen.length === 2, 5_000, 'both events');
    expect(errors.map((e) => e.code)).toEqual(['HANDLER_ERROR']);
  });

  it('a server breaking the protocol (binary frames) ends the subscription with BAD_RESPONSE', async () => {
    const raw = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((ok) => raw.once('listening', ok));
    let connections = 0;
    raw.on('connection', (socket) => {
      connections += 1;
      socket.on('message', () => socket.send(Buffer.from(JSON.stringify({ type: 'connection_ack' })), { binary: true }));
    });
    try {
      const c = createCasegraphClient({
        url: 'http://127.0.0.1:9/graphql',
        wsUrl: `ws://127.0.0.1:${(raw.address() as AddressInfo).port}`,
        getToken: () => GOOD,
        webSocketImpl: WebSocket,
        retryWait: () => sleep(10),
      });
      clients.push(c);
      const errors: CasegraphError[] = [];
      c.subscribe(ConsoleRequestEventsDocument, {}, { onEvent: () => {}, onError: (e) => errors.push(e) });
      await waitFor(() => errors.length === 1, 5_000, 'the error');
      expect(errors[0]?.code).toBe('BAD_RESPONSE');
      expect(errors[0]?.message).toMatch(/type/);
      expect(connections).toBe(6); // the first attempt and 5 retries
    } finally {
      for (const socket of raw.clients) socket.terminate();
      await new Promise<void>((ok) => raw.close(() => ok()));
    }
  });
});
