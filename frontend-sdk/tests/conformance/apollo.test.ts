// Apollo Client (core, no React) against the live server: a query over HTTP (HttpLink) and a
// subscription over graphql-transport-ws (GraphQLWsLink), split by operation type.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Kind, OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CommentVisibility,
  ConsoleAddCommentDocument,
  ConsoleRequestDetailDocument,
  assertNoUserErrors,
} from '../../src/index.js';
import { adminClient, customerClient, live, waitFor } from '../support/live.js';
import { openRequest } from '../support/requests.js';

const TEAMS = gql`
  query ApolloTeams {
    viewer { subject }
    teams { id name openRequests }
  }
`;

const EVENTS = gql`
  subscription ApolloEvents($id: ID!, $after: String) {
    requestEvents(filter: { serviceRequestId: $id }, after: $after) {
      id
      cursor
      kind
      serviceRequest { id number }
      comment { id body }
    }
  }
`;

interface EventsData {
  requestEvents: { id: string; cursor: string; kind: string; serviceRequest: { id: string; number: string }; comment: { id: string; body: string } | null };
}

/** The newest event cursor of a request: subscribing `after` it cannot miss what follows. */
async function newestCursor(id: string): Promise<string> {
  const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id });
  if (node?.__typename !== 'ServiceRequest') throw new Error('request not visible');
  const last = node.events.nodes.at(-1);
  if (!last) throw new Error('a new request has CREATED and ASSIGNED events');
  return last.cursor;
}

const disposers: Array<() => unknown> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0)) await dispose();
});

function apollo(token: string): ApolloClient {
  const ws = createClient({ url: live().wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  disposers.push(() => ws.dispose());
  const http = new HttpLink({ uri: live().url, headers: { authorization: `Bearer ${token}` } });
  const link = ApolloLink.split(
    ({ query }) =>
      query.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.SUBSCRIPTION),
    new GraphQLWsLink(ws),
    http,
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  disposers.push(() => client.stop());
  return client;
}

describe('Apollo Client', () => {
  it('runs a query over HTTP', async () => {
    const client = apollo(live().adminToken);
    const result = await client.query<{ viewer: { subject: string }; teams: Array<{ id: string; name: string; openRequests: number }> }>({
      query: TEAMS,
      fetchPolicy: 'network-only',
    });
    expect(result.error).toBeUndefined();
    expect(result.data?.viewer.subject).toBe('admin@example.com');
    expect(result.data?.teams.map((t) => t.name)).toContain('Billing');
  });

  it('receives a subscription event over GraphQLWsLink', async () => {
    const request = await openRequest(customerClient(), 'apollo conformance');
    const after = await newestCursor(request.id);
    const client = apollo(live().adminToken);
    const received: EventsData[] = [];
    const errors: unknown[] = [];
    const subscription = client.subscribe<EventsData>({ query: EVENTS, variables: { id: request.id, after } }).subscribe({
      next: (result) => {
        if (result.data) received.push(result.data as EventsData);
        if (result.error) errors.push(result.error);
      },
      error: (e: unknown) => errors.push(e),
    });
    disposers.push(() => subscription.unsubscribe());
    assertNoUserErrors(
      await adminClient().mutate(ConsoleAddCommentDocument, {
        input: { serviceRequestId: request.id, body: 'hello from Apollo', visibility: CommentVisibility.PUBLIC },
      }),
    );
    await waitFor(() => received.length > 0 || errors.length > 0, 10_000, 'the COMMENTED event');
    expect(errors).toEqual([]);
    expect(received[0]!.requestEvents).toMatchObject({
      kind: 'COMMENTED',
      serviceRequest: { id: request.id, number: request.number },
      comment: { body: 'hello from Apollo' },
    });
  });

  it('reports an unauthenticated query as an error, not data', async () => {
    const client = apollo('not-a-token');
    const result = await client.query({ query: TEAMS, fetchPolicy: 'network-only', errorPolicy: 'all' }).catch((e: unknown) => ({ error: e, data: undefined }));
    expect(result.error).toBeDefined();
    expect(result.data).toBeUndefined();
  });
});
