// Subscriptions against the live server: delivery, auth over the socket, and resumption.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CasegraphError,
  CommentVisibility,
  ConsoleAddCommentDocument,
  ConsoleRequestEventsDocument,
  ConsoleSlaAlertsDocument,
  PortalRequestStatusDocument,
  RequestEventKind,
  assertNoUserErrors,
  type CasegraphClient,
  type RequestEventFieldsFragment,
} from '../src/index.js';
import { adminClient, clientWith, customerClient, live, sleep, waitFor } from './support/live.js';
import { openRequest } from './support/requests.js';

// Time for the server to register a fresh subscription before the test causes events.
const SETTLE_MS = 750;

async function comment(client: CasegraphClient, serviceRequestId: string, body: string): Promise<void> {
  assertNoUserErrors(
    await client.mutate(ConsoleAddCommentDocument, {
      input: { serviceRequestId, body, visibility: CommentVisibility.PUBLIC },
    }),
  );
}

describe('subscriptions', () => {
  it('the server speaks graphql-transport-ws in text frames (what every graphql-ws client expects)', async () => {
    const socket = new WebSocket(live().wsUrl, 'graphql-transport-ws');
    const first = await new Promise<{ isBinary: boolean; text: string }>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () =>
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${live().adminToken}` } })),
      );
      socket.once('message', (data, isBinary) => resolve({ isBinary, text: String(data) }));
      socket.once('close', (code, reason) => reject(new Error(`closed ${code} ${String(reason)}`)));
    }).finally(() => socket.close());
    expect(JSON.parse(first.text)).toEqual({ type: 'connection_ack' });
    // Binary frames make graphql-ws close the socket with 4004 "Message is missing the 'type' property".
    expect(first.isBinary).toBe(false);
  });

  it('requestEvents delivers an event caused by a mutation (portal live status)', async () => {
    const customer = customerClient();
    const request = await openRequest(customer, 'live status');
    const events: RequestEventFieldsFragment[] = [];
    const errors: CasegraphError[] = [];
    const sub = customer.subscribe(
      PortalRequestStatusDocument,
      { serviceRequestId: request.id },
      { onEvent: (data) => events.push(data.requestEvents), onError: (e) => errors.push(e) },
    );
    try {
      await sleep(SETTLE_MS);
      await comment(adminClient(), request.id, 'we are on it');
      await waitFor(() => events.length > 0 || errors.length > 0, 10_000, 'the COMMENTED event');
      expect(errors).toEqual([]);
      const event = events[0]!;
      expect(event.kind).toBe(RequestEventKind.COMMENTED);
      expect(event.serviceRequest.id).toBe(request.id);
      expect(event.comment?.body).toBe('we are on it');
      expect(sub.lastCursor).toBe(event.cursor);
    } finally {
      sub.unsubscribe();
      await customer.dispose();
    }
  });

  it('a refused socket token (4403) is refreshed through getToken and the subscription goes on', async () => {
    const request = await openRequest(customerClient(), 'token refresh');
    const asked: Array<boolean | undefined> = [];
    const client = clientWith((options) => {
      asked.push(options?.forceRefresh);
      return options?.forceRefresh ? live().adminToken : 'expired-or-bad-token';
    });
    const events: RequestEventFieldsFragment[] = [];
    const errors: CasegraphError[] = [];
    const sub = client.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { serviceRequestId: request.id } },
      { onEvent: (d) => events.push(d.requestEvents), onError: (e) => errors.push(e) },
    );
    try {
      await waitFor(() => asked.includes(true), 10_000, 'getToken({ forceRefresh: true })');
      await sleep(SETTLE_MS);
      await comment(adminClient(), request.id, 'after refresh');
      await waitFor(() => events.length > 0 || errors.length > 0, 10_000, 'an event after the refresh');
      expect(errors).toEqual([]);
      expect(events[0]?.comment?.body).toBe('after refresh');
      expect(asked[0]).toBeUndefined();
    } finally {
      sub.unsubscribe();
      await client.dispose();
    }
  });

  it('a token refused again and again ends the subscription with UNAUTHENTICATED (4403)', async () => {
    const client = clientWith(() => 'never-valid', { maxAuthRetries: 2 });
    const errors: CasegraphError[] = [];
    const sub = client.subscribe(ConsoleRequestEventsDocument, {}, { onEvent: () => {}, onError: (e) => errors.push(e) });
    try {
      await waitFor(() => errors.length > 0, 10_000, 'the subscription error');
      expect(errors[0]?.code).toBe('UNAUTHENTICATED');
      expect(errors[0]?.closeCode).toBe(4403);
    } finally {
      sub.unsubscribe();
      await client.dispose();
    }
  });

  it('slaAlerts is FORBIDDEN for a customer', async () => {
    const client = customerClient();
    const errors: CasegraphError[] = [];
    const sub = client.subscribe(ConsoleSlaAlertsDocument, {}, { onEvent: () => {}, onError: (e) => errors.push(e) });
    try {
      await waitFor(() => errors.length > 0, 10_000, 'the FORBIDDEN error');
      expect(errors[0]).toBeInstanceOf(CasegraphError);
      expect(errors[0]?.code).toBe('FORBIDDEN');
    } finally {
      sub.unsubscribe();
      await client.dispose();
    }
  });
});

describe('resumption', () => {
  it('after a dropped socket the missed events arrive exactly once, in order', async () => {
    const request = await openRequest(customerClient(), 'resume me');
    const actor = adminClient();

    // Reconnects wait on `gate` so the test decides how long the socket stays down.
    let openGate: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    let reconnects = 0;
    const watcher = clientWith(() => live().adminToken, {
      retryWait: async () => {
        reconnects += 1;
        await gate;
      },
    });

    const events: RequestEventFieldsFragment[] = [];
    const errors: CasegraphError[] = [];
    const sub = watcher.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { serviceRequestId: request.id } },
      { onEvent: (d) => events.push(d.requestEvents), onError: (e) => errors.push(e) },
    );
    try {
      await sleep(SETTLE_MS);
      await comment(actor, request.id, 'one');
      await waitFor(() => events.length === 1 || errors.length > 0, 10_000, 'the first event');
      expect(errors).toEqual([]);

      // Drop the socket and keep it down while three events happen.
      gate = new Promise((resolve) => (openGate = resolve));
      watcher.terminate();
      await waitFor(() => reconnects > 0, 5_000, 'the reconnect attempt');
      for (const body of ['two', 'three', 'four']) await comment(actor, request.id, body);
      expect(events).toHaveLength(1);

      // Reconnect: the three missed events are replayed from the last cursor, then live again.
      openGate();
      await waitFor(() => events.length >= 4 || errors.length > 0, 10_000, 'the replayed events');
      await comment(actor, request.id, 'five');
      await waitFor(() => events.length >= 5 || errors.length > 0, 10_000, 'the live event after the replay');
      await sleep(500); // anything repeated would arrive now

      expect(errors).toEqual([]);
      expect(events.map((e) => e.comment?.body)).toEqual(['one', 'two', 'three', 'four', 'five']);
      expect(events.every((e) => e.kind === RequestEventKind.COMMENTED)).toBe(true);
      expect(new Set(events.map((e) => e.cursor)).size).toBe(5);
      expect(sub.lastCursor).toBe(events[4]?.cursor);
    } finally {
      openGate();
      sub.unsubscribe();
      await watcher.dispose();
    }
  });

  it('a new subscription with after: <stored cursor> replays what happened since', async () => {
    const request = await openRequest(customerClient(), 'resume later');
    const actor = adminClient();
    const first = adminClient();
    const seen: RequestEventFieldsFragment[] = [];
    const errors: CasegraphError[] = [];
    const sub = first.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { serviceRequestId: request.id } },
      { onEvent: (d) => seen.push(d.requestEvents), onError: (e) => errors.push(e) },
    );
    try {
      await sleep(SETTLE_MS);
      await comment(actor, request.id, 'before');
      await waitFor(() => seen.length === 1 || errors.length > 0, 10_000, 'the first event');
      expect(errors).toEqual([]);
    } finally {
      sub.unsubscribe();
      await first.dispose();
    }
    const stored = sub.lastCursor;

    await comment(actor, request.id, 'while away 1');
    await comment(actor, request.id, 'while away 2');

    const later = adminClient();
    const replayed: RequestEventFieldsFragment[] = [];
    const again = later.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { serviceRequestId: request.id }, after: stored ?? null },
      { onEvent: (d) => replayed.push(d.requestEvents), onError: (e) => errors.push(e) },
    );
    try {
      await waitFor(() => replayed.length >= 2 || errors.length > 0, 10_000, 'the replay');
      await sleep(300);
      expect(errors).toEqual([]);
      expect(replayed.map((e) => e.comment?.body)).toEqual(['while away 1', 'while away 2']);
    } finally {
      again.unsubscribe();
      await later.dispose();
    }
  });
});
