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

export interface HttpTransportOptions {
  url: string;
  getToken: TokenProvider;
  fetch: FetchLike;
  headers?: Record<string, string>;
}

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
  const { query, operationName } = prepare(document);
  const body = JSON.stringify({ query, operationName, variables: variables ?? {} });

  let response = await post(transport, body, await transport.getToken(), options);
  if (response.status === 401) {
    // The token may just have expired: one retry with a fresh one, then give up.
    await response.body?.cancel().catch(() => undefined);
    response = await post(transport, body, await transport.getToken({ forceRefresh: true }), options);
  }
  return readResult<TData>(response);
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

async function readResult<TData>(response: Response): Promise<TData> {
  const status = response.status;
  const text = await response.text();
  let parsed: GraphQLResponseBody | undefined;
  try {
    parsed = text ? (JSON.parse(text) as GraphQLResponseBody) : undefined;
  } catch {
    parsed = undefined;
  }

  if (parsed && Array.isArray(parsed.errors) && parsed.errors.length > 0) {
    throw CasegraphError.fromGraphQLErrors(parsed.errors, { status, data: parsed.data ?? undefined });
  }
  if (status === 401) {
    const challenge = response.headers.get('www-authenticate') ?? 'Bearer';
    throw new CasegraphError('UNAUTHENTICATED', `HTTP 401: the access token was refused (${challenge})`, {
      status,
    });
  }
  if (status === 403) {
    throw new CasegraphError('FORBIDDEN', 'HTTP 403', { status });
  }
  if (!response.ok) {
    throw new CasegraphError('HTTP_ERROR', `HTTP ${status}: ${text.slice(0, 200)}`, { status });
  }
  if (!parsed || parsed.data === undefined || parsed.data === null) {
    throw new CasegraphError('BAD_RESPONSE', `not a GraphQL response (HTTP ${status})`, { status });
  }
  return parsed.data as TData;
}
