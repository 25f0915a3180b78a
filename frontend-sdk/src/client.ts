// createCasegraphClient: one object for queries, mutations and resumable subscriptions.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client } from 'graphql-ws';
import { prepare } from './documents.js';
import {
  executeHttp,
  type FetchLike,
  type PersistedDocumentsMode,
  type RequestOptions,
  type TokenProvider,
} from './http.js';
import {
  createWsClient,
  subscribeResumable,
  type CasegraphSubscription,
  type SubscriptionHandlers,
} from './subscriptions.js';

export interface CasegraphClientOptions {
  /** The GraphQL endpoint, e.g. `https://casegraph.example.com/graphql`. */
  url: string;
  /** The WebSocket endpoint; default: `url` with http(s) turned into ws(s). */
  wsUrl?: string;
  /** Bearer token for every request and (re)connection; see TokenProvider. */
  getToken: TokenProvider;
  /** fetch implementation; default: the global one. */
  fetch?: FetchLike;
  /** WebSocket class for subscriptions; default: the global one (browsers, Node >= 22). On Node 20 pass `ws`. */
  webSocketImpl?: unknown;
  /** Extra HTTP headers for every request (not the WebSocket). */
  headers?: Record<string, string>;
  /** Wait before WebSocket reconnect attempt `retries` (0-based); default: 0.5 s doubling up to 30 s. */
  retryWait?: (retries: number) => Promise<void>;
  /** Consecutive WebSocket 4403 refusals, each after a token refresh, before subscriptions fail; default 3. */
  maxAuthRetries?: number;
  /**
   * Generated documents go by their SHA-256 first (persisted queries) and by their text only when
   * the server asks for it and takes it: `prefer` (default), `only` (never the text), `off`.
   */
  persistedDocuments?: PersistedDocumentsMode;
}

/** `[variables?]` when every variable is optional, `[variables]` otherwise. */
export type VariablesArg<TVariables> =
  Record<string, never> extends TVariables ? [variables?: TVariables] : [variables: TVariables];

export interface CasegraphClient {
  /** Run a query or mutation over HTTP; resolves to `data`, throws CasegraphError on refusal. */
  request<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...args: [...VariablesArg<TVariables>, options?: RequestOptions]
  ): Promise<TData>;
  /**
   * Run a single-field mutation and resolve to its payload (`{ <entity>, userErrors }`).
   * userErrors are returned, not thrown: use `assertNoUserErrors` to throw them.
   */
  mutate<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...args: [...VariablesArg<TVariables>, options?: RequestOptions]
  ): Promise<TData[keyof TData]>;
  /**
   * Subscribe to a subscription document. For documents with an `$after` variable
   * (requestEvents, slaAlerts) every reconnect resumes after the last event's cursor:
   * no event is missed or delivered twice.
   */
  subscribe<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    handlers: SubscriptionHandlers<TData>,
  ): CasegraphSubscription;
  /** Drop the WebSocket at once (e.g. after a network change); live subscriptions reconnect and resume. */
  terminate(): void;
  /** Close the WebSocket for good; subscriptions complete. */
  dispose(): Promise<void>;
}

/** http://host/graphql -> ws://host/graphql, https -> wss. */
export function toWebSocketUrl(url: string): string {
  return url.replace(/^http(s?):\/\//i, (_m, s: string) => `ws${s}://`);
}

/** Create a client. Nothing connects until the first request or subscription. */
export function createCasegraphClient(options: CasegraphClientOptions): CasegraphClient {
  const fetchImpl: FetchLike =
    options.fetch ??
    ((input, init) => {
      if (typeof globalThis.fetch !== 'function') throw new TypeError('no global fetch: pass `fetch` in the options');
      return globalThis.fetch(input, init);
    });
  const transport = {
    url: options.url,
    getToken: options.getToken,
    fetch: fetchImpl,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.persistedDocuments ? { persistedDocuments: options.persistedDocuments } : {}),
  };

  // Created on first use, so HTTP-only users never need a WebSocket implementation.
  let ws: Client | undefined;
  const wsClient = (): Client => {
    ws ??= createWsClient({
      wsUrl: options.wsUrl ?? toWebSocketUrl(options.url),
      getToken: options.getToken,
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      ...(options.retryWait ? { retryWait: options.retryWait } : {}),
      ...(options.maxAuthRetries !== undefined ? { maxAuthRetries: options.maxAuthRetries } : {}),
    });
    return ws;
  };

  const request = <TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...args: unknown[]
  ): Promise<TData> => {
    const [variables, requestOptions] = args as [TVariables | undefined, RequestOptions | undefined];
    return executeHttp(transport, document, variables, requestOptions);
  };

  return {
    request: request as CasegraphClient['request'],
    mutate: (async <TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, ...args: unknown[]) => {
      if (prepare(document).operation !== 'mutation') throw new TypeError('mutate() needs a mutation document');
      const data = await request(document, ...args);
      const values = Object.values(data as Record<string, unknown>);
      if (values.length !== 1) throw new TypeError('mutate() needs a document with exactly one root field');
      return values[0] as TData[keyof TData];
    }) as CasegraphClient['mutate'],
    subscribe: (document, variables, handlers) => subscribeResumable(wsClient(), document, variables, handlers),
    terminate: () => ws?.terminate(),
    dispose: async () => {
      const closing = ws;
      ws = undefined;
      // graphql-ws rejects dispose() when a reconnect was pending; closing is all we want.
      try {
        await closing?.dispose();
      } catch {
        // nothing left to close
      }
    },
  };
}
