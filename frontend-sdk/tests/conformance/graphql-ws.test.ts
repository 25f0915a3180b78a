// graphql-transport-ws conformance with the stock `graphql-ws` client (no SDK wrapper around it):
// auth in connection_init, a subscription that receives the event a mutation caused, and the
// refusal of a socket without a token.
import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CommentVisibility, ConsoleAddCommentDocument, ConsoleRequestDetailDocument, assertNoUserErrors } from '../../src/index.js';
import { adminClient, customerClient, live, waitFor } from '../support/live.js';
import { openRequest } from '../support/requests.js';

const EVENTS = /* GraphQL */ `
  subscription Events($id: ID!, $after: String) {
    requestEvents(filter: { serviceRequestId: $id }, after: $after) {
      cursor
      kind
      actorName
      serviceRequest { id number }
      comment { body visibility }
    }
  }
`;

interface EventResult {
  requestEvents: {
    cursor: string;
    kind: string;
    actorName: string;
    serviceRequest: { id: string; number: string };
    comment: { body: string; visibility: string } | null;
  };
}

/** The newest event cursor of a request: subscribing `after` it cannot miss what follows. */
async function newestCursor(id: string): Promise<string> {
  const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id });
  if (node?.__typename !== 'ServiceRequest') throw new Error('request not visible');
  const last = node.events.nodes.at(-1);
  if (!last) throw new Error('a new request has CREATED and ASSIGNED events');
  return last.cursor;
}

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

function wsClient(token: string | null, retryAttempts = 0): Client {
  const client = createClient({
    url: live().wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts,
    ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
  });
  clients.push(client);
  return client;
}

describe('graphql-ws client', () => {
  it('subscribes to requestEvents and receives the event a mutation caused', async () => {
    const request = await openRequest(customerClient(), 'graphql-ws conformance');
    const after = await newestCursor(request.id);
    const received: EventResult[] = [];
    const errors: unknown[] = [];
    const client = wsClient(live().adminToken);
    client.subscribe<EventResult>(
      { query: EVENTS, variables: { id: request.id, after } },
      { next: (r) => (r.data ? received.push(r.data) : errors.push(r.errors)), error: (e) => errors.push(e), complete: () => undefined },
    );
    assertNoUserErrors(
      await adminClient().mutate(ConsoleAddCommentDocument, {
        input: { serviceRequestId: request.id, body: 'hello from graphql-ws', visibility: CommentVisibility.PUBLIC },
      }),
    );
    await waitFor(() => received.length > 0 || errors.length > 0, 10_000, 'the COMMENTED event');
    expect(errors).toEqual([]);
    const event = received[0]!.requestEvents;
    expect(event.kind).toBe('COMMENTED');
    expect(event.serviceRequest).toEqual({ id: request.id, number: request.number });
    expect(event.comment).toEqual({ body: 'hello from graphql-ws', visibility: 'PUBLIC' });
    expect(event.cursor).not.toBe(after);
  });

  it('iterates a subscription with the async iterator API', async () => {
    const request = await openRequest(customerClient(), 'graphql-ws iterate');
    const after = await newestCursor(request.id);
    const client = wsClient(live().adminToken);
    const iterator = client.iterate<EventResult>({ query: EVENTS, variables: { id: request.id, after } });
    await adminClient().mutate(ConsoleAddCommentDocument, {
      input: { serviceRequestId: request.id, body: 'iterated', visibility: CommentVisibility.INTERNAL },
    });
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(first.value?.data?.requestEvents.comment).toEqual({ body: 'iterated', visibility: 'INTERNAL' });
    await iterator.return?.();
  });

  it('is refused with close code 4403 without a token', async () => {
    const client = wsClient(null);
    const outcome = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: EVENTS, variables: { id: 'x' } }, { next: resolve, error: resolve, complete: () => resolve('complete') });
    });
    expect(outcome).toMatchObject({ code: 4403 });
  });
});
