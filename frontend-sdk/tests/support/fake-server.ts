// A small graphql-transport-ws server on the contract schema, for testing the SDK's own
// subscription logic (reconnect, resume, dedupe, 4403 refresh) independently of the real
// server: requestEvents replays the in-memory log after `after`, then goes live.
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { GraphQLError, buildSchema, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

const SDK = resolve(import.meta.dirname, '..', '..');

/** The schema codegen uses (see codegen.ts), so the fake speaks the same contract. */
function contractSdl(): string {
  const candidates = [
    process.env.CASEGRAPH_SCHEMA,
    resolve(SDK, '..', 'schema.graphql'),
    resolve(SDK, '..', '..', 'shared', 'contract', 'schema.graphql'),
  ];
  for (const path of candidates) if (path && existsSync(path)) return readFileSync(path, 'utf8');
  throw new Error('no schema.graphql found for the fake server');
}

export interface FakeEvent {
  id: string;
  cursor: string;
  kind: 'COMMENTED';
  occurredAt: string;
  actorName: string;
  fromStatus: null;
  toStatus: null;
  serviceRequest: { id: string; number: string; status: 'NEW'; version: number };
  comment: {
    id: string;
    body: string;
    visibility: 'PUBLIC';
    authorName: string;
    authorRole: 'AGENT';
    createdAt: string;
  };
  approval: null;
}

export interface FakeServerOptions {
  /** Tokens accepted in connection_init; anything else is closed with 4403. */
  validTokens: string[];
  /** Replay from the `after` event itself (inclusive), as a sloppy server might: the client must drop it. */
  overlappingReplay?: boolean;
}

export interface FakeServer {
  url: string;
  /** Append an event to the log and deliver it to live subscribers. */
  publish(body: string): FakeEvent;
  /** Variables of every subscribe message received, in order. */
  subscribes: Array<Record<string, unknown>>;
  /** `authorization` of every connection_init received, in order. */
  tokensPresented: string[];
  /** Drop every client socket abruptly from the server side. */
  dropAll(): void;
  close(): Promise<void>;
}

function schemaWith(log: FakeEvent[], listeners: Set<(e: FakeEvent) => void>, overlap: boolean): GraphQLSchema {
  const schema = buildSchema(contractSdl());
  const fields = schema.getSubscriptionType()?.getFields();
  const requestEvents = fields?.['requestEvents'];
  if (!requestEvents) throw new Error('contract has no Subscription.requestEvents');
  requestEvents.subscribe = (_root, args: { after?: string | null }) => stream(args.after ?? null);
  requestEvents.resolve = (payload: { requestEvents: FakeEvent }) => payload.requestEvents;

  async function* stream(after: string | null): AsyncGenerator<{ requestEvents: FakeEvent }> {
    const queue: FakeEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (e: FakeEvent): void => {
      queue.push(e);
      wake?.();
    };
    // Listen before reading the log, so nothing published in between is lost.
    listeners.add(listener);
    try {
      let start = log.length;
      if (after !== null) {
        const at = log.findIndex((e) => e.cursor === after);
        start = overlap ? Math.max(at, 0) : at + 1;
      }
      const replay = log.slice(start);
      const replayed = new Set(replay.map((e) => e.cursor));
      for (const e of replay) yield { requestEvents: e };
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          if (!replayed.has(e.cursor)) yield { requestEvents: e };
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      listeners.delete(listener);
    }
  }
  return schema;
}

export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const log: FakeEvent[] = [];
  const listeners = new Set<(e: FakeEvent) => void>();
  const subscribes: Array<Record<string, unknown>> = [];
  const tokensPresented: string[] = [];
  const schema = schemaWith(log, listeners, options.overlappingReplay ?? false);

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/graphql' });
  await new Promise<void>((ok) => wss.once('listening', ok));
  const disposeServer = useServer(
    {
      schema,
      onConnect: (ctx) => {
        const auth = String((ctx.connectionParams as { authorization?: unknown } | undefined)?.authorization ?? '');
        tokensPresented.push(auth);
        return options.validTokens.some((t) => auth === `Bearer ${t}`); // false -> close 4403
      },
      onSubscribe: (_ctx, _id, payload) => {
        subscribes.push({ ...(payload.variables ?? {}) });
        if (payload.query.includes('slaAlerts')) {
          return [new GraphQLError('Not allowed for this role.', { extensions: { code: 'FORBIDDEN' } })];
        }
        return undefined;
      },
    },
    wss,
  );

  let sequence = 0;
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/graphql`,
    subscribes,
    tokensPresented,
    publish(body) {
      sequence += 1;
      const now = new Date().toISOString();
      const event: FakeEvent = {
        id: `RequestEvent:${sequence}`,
        cursor: `c${String(sequence).padStart(6, '0')}`,
        kind: 'COMMENTED',
        occurredAt: now,
        actorName: 'Ana Ortiz',
        fromStatus: null,
        toStatus: null,
        serviceRequest: { id: 'ServiceRequest:1', number: 'SR-000001', status: 'NEW', version: sequence },
        comment: {
          id: `Comment:${sequence}`,
          body,
          visibility: 'PUBLIC',
          authorName: 'Ana Ortiz',
          authorRole: 'AGENT',
          createdAt: now,
        },
        approval: null,
      };
      log.push(event);
      for (const listener of listeners) listener(event);
      return event;
    },
    dropAll() {
      for (const client of wss.clients) client.terminate();
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await disposeServer.dispose();
      await new Promise<void>((ok) => wss.close(() => ok()));
    },
  };
}
