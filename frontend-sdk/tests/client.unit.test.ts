// The HTTP side of the client against a fake fetch (no server needed).
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CasegraphError,
  ConsoleStartWorkDocument,
  PortalMyRequestsDocument,
  PortalViewerDocument,
  UserErrorCode,
  UserErrorsError,
  assertNoUserErrors,
  createCasegraphClient,
  toWebSocketUrl,
  type FetchLike,
} from '../src/index.js';

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(responses: Array<{ status: number; body: unknown; headers?: Record<string, string> }>) {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, init });
    const next = responses.shift();
    if (!next) throw new Error('unexpected request');
    return new Response(typeof next.body === 'string' ? next.body : JSON.stringify(next.body), {
      status: next.status,
      headers: { 'content-type': 'application/graphql-response+json', ...next.headers },
    });
  };
  return { fetch, calls };
}

describe('request over HTTP', () => {
  it('posts the operation with bearer token and GraphQL accept header', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: { data: { viewer: { subject: 'a' } } } }]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: async () => 'tok', fetch });
    const data = await client.request(PortalViewerDocument);
    expect(data.viewer.subject).toBe('a');
    const headers = calls[0]?.init.headers as Record<string, string>;
    expect(headers.authorization).toBe('Bearer tok');
    expect(headers.accept).toContain('application/graphql-response+json');
    expect(headers.accept).toContain('application/json');
    // A generated document goes by its SHA-256 alone (persisted queries).
    const body = JSON.parse(String(calls[0]?.init.body));
    expect(body.operationName).toBe('PortalViewer');
    expect(body.query).toBeUndefined();
    expect(body.extensions.persistedQuery).toEqual({ version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('throws CasegraphError with the extensions code', async () => {
    const { fetch } = fakeFetch([
      { status: 200, body: { data: null, errors: [{ message: 'no', extensions: { code: 'FORBIDDEN' } }] } },
    ]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    const error = await client.request(PortalMyRequestsDocument, { first: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasegraphError);
    expect((error as CasegraphError).code).toBe('FORBIDDEN');
    expect((error as CasegraphError).errors).toHaveLength(1);
  });

  it('retries a 401 once with a refreshed token, then throws UNAUTHENTICATED', async () => {
    const unauthorized = {
      status: 401,
      body: { errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED' } }] },
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    };
    const { fetch, calls } = fakeFetch([unauthorized, unauthorized]);
    const asked: Array<boolean | undefined> = [];
    const client = createCasegraphClient({
      url: 'http://x/graphql',
      getToken: (o) => {
        asked.push(o?.forceRefresh);
        return `t${asked.length}`;
      },
      fetch,
    });
    const error = await client.request(PortalViewerDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasegraphError);
    expect((error as CasegraphError).code).toBe('UNAUTHENTICATED');
    expect((error as CasegraphError).status).toBe(401);
    expect(asked).toEqual([undefined, true]);
    expect((calls[1]?.init.headers as Record<string, string>).authorization).toBe('Bearer t2');
  });

  it('maps a bare HTTP 401 (no GraphQL body) to UNAUTHENTICATED', async () => {
    const { fetch } = fakeFetch([
      { status: 401, body: '' },
      { status: 401, body: '' },
    ]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    await expect(client.request(PortalViewerDocument)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('reports a network failure as NETWORK_ERROR', async () => {
    const fetch: FetchLike = async () => {
      throw new TypeError('connection refused');
    };
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    await expect(client.request(PortalViewerDocument)).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
  });

  it('mutate() returns the typed payload; assertNoUserErrors throws UserErrorsError', async () => {
    const payload = {
      serviceRequest: null,
      userErrors: [{ field: ['input', 'expectedVersion'], message: 'stale', code: 'VERSION_CONFLICT' }],
    };
    const { fetch } = fakeFetch([{ status: 200, body: { data: { startWork: payload } } }]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    const result = await client.mutate(ConsoleStartWorkDocument, { input: { id: 'SR', expectedVersion: 1 } });
    expectTypeOf(result.userErrors[0]!.code).toEqualTypeOf<UserErrorCode>();
    expect(result.userErrors[0]?.code).toBe(UserErrorCode.VERSION_CONFLICT);
    let thrown: unknown;
    try {
      assertNoUserErrors(result);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UserErrorsError);
    expect((thrown as UserErrorsError).code).toBe('VERSION_CONFLICT');
    expect((thrown as UserErrorsError).has(UserErrorCode.VERSION_CONFLICT)).toBe(true);
  });
});

describe('toWebSocketUrl', () => {
  it('turns http(s) into ws(s)', () => {
    expect(toWebSocketUrl('http://h:1/graphql')).toBe('ws://h:1/graphql');
    expect(toWebSocketUrl('https://h/graphql')).toBe('wss://h/graphql');
  });
});

describe('persisted documents over HTTP', () => {
  const notFound = {
    status: 400,
    body: { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] },
  };
  const ok = { status: 200, body: { data: { viewer: { subject: 'a' } } } };
  const bodies = (calls: Call[]): Array<Record<string, unknown>> => calls.map((c) => JSON.parse(String(c.init.body)));

  it('sends the text with the hash when the server does not know the hash, then the hash alone', async () => {
    const { fetch, calls } = fakeFetch([notFound, ok, ok]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    await client.request(PortalViewerDocument);
    await client.request(PortalViewerDocument);
    const [first, second, third] = bodies(calls);
    expect(first?.query).toBeUndefined();
    const hash = (second?.extensions as { persistedQuery: { sha256Hash: string } }).persistedQuery.sha256Hash;
    const text = String(second?.query);
    expect(text).toContain('query PortalViewer');
    // The hash is the SHA-256 of exactly that text (the server checks it).
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))).toString('hex');
    expect(hash).toBe(digest);
    expect(third?.query).toBeUndefined();
  });

  it('stops offering the text where the server refuses it, and surfaces PERSISTED_QUERY_NOT_FOUND', async () => {
    const { fetch, calls } = fakeFetch([notFound, notFound, notFound]);
    const client = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch });
    for (let i = 0; i < 2; i++) {
      const error = await client.request(PortalViewerDocument).catch((e: unknown) => e);
      expect((error as CasegraphError).code).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect((error as CasegraphError).status).toBe(400);
    }
    expect(calls).toHaveLength(3); // hash, text; then the hash alone
  });

  it('sends only the hash with `only`, only the text with `off`', async () => {
    const only = fakeFetch([notFound]);
    const strict = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch: only.fetch, persistedDocuments: 'only' });
    await strict.request(PortalViewerDocument).catch(() => undefined);
    expect(only.calls).toHaveLength(1);
    const off = fakeFetch([ok]);
    const plain = createCasegraphClient({ url: 'http://x/graphql', getToken: () => 't', fetch: off.fetch, persistedDocuments: 'off' });
    await plain.request(PortalViewerDocument);
    const [body] = bodies(off.calls);
    expect(body?.query).toContain('query PortalViewer');
    expect(body?.extensions).toBeUndefined();
  });
});
