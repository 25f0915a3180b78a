// Queries and mutations over HTTP POST (GraphQL over HTTP, application/graphql-response+json).
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { GraphQLFormattedError } from 'graphql';
import { prepare } from './documents.js';
import { CasegraphError } from './errors.js';

/**
 * Supplies the bearer token for every request and every (re)connection.
 * `forceRefresh` is set after the server refused the last token (HTTP 401, WebSocket 4403):
 * return a new one then, not a cached copy.
 */
export type TokenProvider = (options?: { forceRefresh: boolean }) => string | Promise<string>;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * How generated documents travel (Apollo's persisted-query protocol, LIMITS.md):
 * - `prefer` (default): the SHA-256 alone; the full text only when the server does not know the
 *   hash and takes text from this caller (a server in TRUSTED_DOCUMENTS=public mode does not, for
 *   customers and partners: the client stops offering it there);
 * - `only`: the hash alone, never the text;
 * - `off`: the full text, as documents without a hash always are.
 */
export type PersistedDocumentsMode = 'prefer' | 'only' | 'off';

export interface HttpTransportOptions {
  url: string;
  getToken: TokenProvider;
  fetch: FetchLike;
  headers?: Record<string, string>;
  persistedDocuments?: PersistedDocumentsMode;
}

/** What one transport learned: whether the server takes a document's text after a hash miss. */
interface TransportState {
  textRefused: boolean;
}

const states = new WeakMap<HttpTransportOptions, TransportState>();

/** Optional per-call settings. */
export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

interface GraphQLResponseBody {
  data?: unknown;
  errors?: readonly GraphQLFormattedError[];
}

/** Execute one operation; resolves to `data`, throws CasegraphError for anything else. */
export async function executeHttp<TData, TVariables>(
  transport: HttpTransportOptions,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables | undefined,
  options: RequestOptions = {},
): Promise<TData> {
  const { query, hash, operationName } = prepare(document);
  const mode = transport.persistedDocuments ?? 'prefer';
  const state = states.get(transport) ?? { textRefused: false };
  states.set(transport, state);
  const vars = variables ?? {};
  if (hash === undefined || mode === 'off') {
    return readResult<TData>(await send(transport, JSON.stringify({ query, operationName, variables: vars }), options));
  }
  const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
  const byHash = await readBody(await send(transport, JSON.stringify({ operationName, variables: vars, extensions }), options));
  if (!persistedQueryNotFound(byHash) || mode === 'only' || state.textRefused) return resultOf<TData>(byHash);
  // The server does not know the hash yet: send the text with it (it remembers the pair).
  const byText = await readBody(
    await send(transport, JSON.stringify({ query, operationName, variables: vars, extensions }), options),
  );
  if (persistedQueryNotFound(byText)) state.textRefused = true; // only registered documents here
  return resultOf<TData>(byText);
}

/** POST the body; on 401, one retry with a fresh token. */
async function send(transport: HttpTransportOptions, body: string, options: RequestOptions): Promise<Response> {
  const response = await post(transport, body, await transport.getToken(), options);
  if (response.status !== 401) return response;
  // The token may just have expired: one retry with a fresh one, then give up.
  await response.body?.cancel().catch(() => undefined);
  return post(transport, body, await transport.getToken({ forceRefresh: true }), options);
}

async function post(
  transport: HttpTransportOptions,
  body: string,
  token: string,
  options: RequestOptions,
): Promise<Response> {
  try {
    return await transport.fetch(transport.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: ACCEPT,
        ...transport.headers,
        ...options.headers,
        authorization: `Bearer ${token}`,
      },
      body,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (cause) {
    if (options.signal?.aborted) throw cause; // let callers see their own AbortError
    throw new CasegraphError('NETWORK_ERROR', `request to ${transport.url} failed: ${String(cause)}`, { cause });
  }
}

interface ResponseBody {
  status: number;
  headers: Headers;
  text: string;
  parsed: GraphQLResponseBody | undefined;
}

async function readBody(response: Response): Promise<ResponseBody> {
  const text = await response.text();
  let parsed: GraphQLResponseBody | undefined;
  try {
    parsed = text ? (JSON.parse(text) as GraphQLResponseBody) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, parsed };
}

function persistedQueryNotFound(body: ResponseBody): boolean {
  return (body.parsed?.errors ?? []).some((e) => e.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND');
}

async function readResult<TData>(response: Response): Promise<TData> {
  return resultOf<TData>(await readBody(response));
}

function resultOf<TData>({ status, headers, text, parsed }: ResponseBody): TData {
  if (parsed && Array.isArray(parsed.errors) && parsed.errors.length > 0) {
    throw CasegraphError.fromGraphQLErrors(parsed.errors, { status, data: parsed.data ?? undefined });
  }
  if (status === 401) {
    const challenge = headers.get('www-authenticate') ?? 'Bearer';
    throw new CasegraphError('UNAUTHENTICATED', `HTTP 401: the access token was refused (${challenge})`, {
      status,
    });
  }
  if (status === 403) {
    throw new CasegraphError('FORBIDDEN', 'HTTP 403', { status });
  }
  if (status < 200 || status >= 300) {
    throw new CasegraphError('HTTP_ERROR', `HTTP ${status}: ${text.slice(0, 200)}`, { status });
  }
  if (!parsed || parsed.data === undefined || parsed.data === null) {
    throw new CasegraphError('BAD_RESPONSE', `not a GraphQL response (HTTP ${status})`, { status });
  }
  return parsed.data as TData;
}
