// Subscriptions over graphql-transport-ws, resumable from the last event cursor.
//
// How "no event missed, none repeated" is kept across reconnects (LIFECYCLE.md §7):
// graphql-ws re-sends the *same* subscribe payload object after every reconnect, so each
// delivered event writes its `cursor` into that payload's `after` variable; the server then
// replays everything after it before going live. Cursors already delivered are dropped as
// well, in case a replay overlaps what the old socket had delivered.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { GraphQLFormattedError } from 'graphql';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { cursorOf, prepare } from './documents.js';
import { CasegraphError } from './errors.js';
import type { TokenProvider } from './http.js';

/** WebSocket close code the server uses for a missing, bad or expired token (ACCESS.md). */
export const CLOSE_FORBIDDEN = 4403;

export interface WsTransportOptions {
  wsUrl: string;
  getToken: TokenProvider;
  /** A WebSocket class; needed on Node < 22 (e.g. `import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
  /** Wait before reconnect attempt `retries` (0-based); default: capped exponential back-off. */
  retryWait?: (retries: number) => Promise<void>;
  /** Consecutive 4403 refusals (each after a forced token refresh) before giving up; default 3. */
  maxAuthRetries?: number;
}

export interface SubscriptionHandlers<TData> {
  /** One event; never called twice for the same cursor. */
  onEvent: (data: TData) => void;
  /** The subscription ended with an error (FORBIDDEN, a refused token...) or an event carried errors. */
  onError?: (error: CasegraphError) => void;
  /** The server completed the subscription, or `unsubscribe()` was called. */
  onComplete?: () => void;
}

export interface CasegraphSubscription {
  /** Stop receiving events. */
  unsubscribe(): void;
  /** Cursor of the last event delivered; store it to resume later with `after`. */
  readonly lastCursor: string | undefined;
}

/** Default back-off: 0.5 s, 1 s, 2 s ... capped at 30 s, plus up to 0.5 s of jitter. */
export async function defaultRetryWait(retries: number): Promise<void> {
  const delay = Math.min(30_000, 500 * 2 ** retries) + Math.floor(Math.random() * 500);
  await new Promise((resolve) => setTimeout(resolve, delay));
}

interface CloseLike {
  code: number;
  reason: string;
}

function isCloseLike(value: unknown): value is CloseLike {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

/** Failures other than closes and network errors (a malformed server message, a throwing getToken) tolerated in a row. */
const MAX_ERRORS_IN_A_ROW = 5;

/**
 * The graphql-ws client with the casegraph auth and retry policy:
 * - socket closes and network errors: retried for ever, with back-off;
 * - 4403 (token missing, bad or expired): retried with a refreshed token, `maxAuthRetries` times in a row;
 * - anything else (a protocol violation by the server, getToken throwing): `MAX_ERRORS_IN_A_ROW` times in a row.
 * Each successful connection resets the counters.
 */
export function createWsClient(options: WsTransportOptions): Client {
  const maxAuthRetries = options.maxAuthRetries ?? 3;
  let refusedInARow = 0;
  let errorsInARow = 0;
  let lastClose: number | undefined;
  return createClient({
    url: options.wsUrl,
    lazy: true,
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
    // The token is asked for on every (re)connect; after a 4403 it must be a fresh one.
    connectionParams: async () => {
      let token: string;
      try {
        token = await options.getToken(lastClose === CLOSE_FORBIDDEN ? { forceRefresh: true } : undefined);
      } catch (cause) {
        if (cause instanceof CasegraphError) throw cause;
        throw new CasegraphError('UNAUTHENTICATED', `getToken failed: ${String(cause)}`, { cause });
      }
      return { authorization: `Bearer ${token}` };
    },
    // Subscriptions are long-lived: keep trying through network drops and server restarts.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    retryWait: options.retryWait ?? defaultRetryWait,
    shouldRetry: (errOrClose) => {
      if (isCloseLike(errOrClose)) {
        if (errOrClose.code !== CLOSE_FORBIDDEN) return true;
        refusedInARow += 1;
        return refusedInARow <= maxAuthRetries;
      }
      if (errOrClose instanceof CasegraphError && errOrClose.code === 'NETWORK_ERROR') return true;
      if (errOrClose instanceof Error) {
        errorsInARow += 1;
        return errorsInARow <= MAX_ERRORS_IN_A_ROW;
      }
      return true; // a network ErrorEvent (connection refused, reset...)
    },
    on: {
      closed: (event) => {
        lastClose = isCloseLike(event) ? event.code : undefined;
      },
      connected: () => {
        refusedInARow = 0;
        errorsInARow = 0;
        lastClose = undefined;
      },
    },
  });
}

/** Remembers the last `limit` cursors delivered, to drop repeats. */
class SeenCursors {
  private readonly seen = new Set<string>();
  constructor(private readonly limit = 10_000) {}

  /** False when the cursor was seen already; records it otherwise. */
  add(cursor: string): boolean {
    if (this.seen.has(cursor)) return false;
    this.seen.add(cursor);
    if (this.seen.size > this.limit) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}

function toCasegraphError(error: unknown): CasegraphError {
  if (error instanceof CasegraphError) return error;
  if (Array.isArray(error)) return CasegraphError.fromGraphQLErrors(error as GraphQLFormattedError[]);
  if (isCloseLike(error)) {
    const code = error.code === CLOSE_FORBIDDEN ? 'UNAUTHENTICATED' : 'NETWORK_ERROR';
    return new CasegraphError(code, `WebSocket closed ${error.code}: ${error.reason || 'no reason'}`, {
      closeCode: error.code,
      cause: error,
    });
  }
  if (error instanceof Error) {
    // graphql-ws throws plain Errors for protocol violations, e.g. a message that is not a text frame.
    return new CasegraphError('BAD_RESPONSE', `subscription failed: ${error.message}`, { cause: error });
  }
  return new CasegraphError('NETWORK_ERROR', `subscription failed: ${String(error)}`, { cause: error });
}

/** Subscribe with resumption; see the module comment. */
export function subscribeResumable<TData, TVariables>(
  client: Client,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  handlers: SubscriptionHandlers<TData>,
): CasegraphSubscription {
  const prepared = prepare(document);
  if (prepared.operation !== 'subscription') {
    throw new TypeError(`subscribe() needs a subscription document, got a ${prepared.operation}`);
  }
  const baseVariables = { ...(variables ?? {}) } as Record<string, unknown>;
  const initialAfter = baseVariables['after'];
  let lastCursor = typeof initialAfter === 'string' ? initialAfter : undefined;
  // graphql-ws keeps this object and sends it again on every reconnect.
  const payload: { query: string; operationName?: string; variables: Record<string, unknown> } = {
    query: prepared.query,
    variables: baseVariables,
    ...(prepared.operationName ? { operationName: prepared.operationName } : {}),
  };
  const seen = new SeenCursors();
  const reportError = (error: CasegraphError): void => {
    if (handlers.onError) handlers.onError(error);
    else console.error('casegraph subscription error', error);
  };

  const dispose = client.subscribe<TData>(payload, {
    next: (result: ExecutionResult<TData>) => {
      if (result.errors && result.errors.length > 0) {
        reportError(CasegraphError.fromGraphQLErrors(result.errors as unknown as GraphQLFormattedError[], { data: result.data }));
      }
      const data = result.data;
      if (data === undefined || data === null) return;
      const cursor = cursorOf(data);
      if (cursor !== undefined) {
        if (!seen.add(cursor)) return;
        lastCursor = cursor;
        if (prepared.acceptsAfter) payload.variables = { ...baseVariables, after: cursor };
      }
      try {
        handlers.onEvent(data);
      } catch (error) {
        // A throwing handler must not reach graphql-ws: it would close the socket for everyone.
        reportError(new CasegraphError('HANDLER_ERROR', `onEvent threw: ${String(error)}`, { cause: error }));
      }
    },
    error: (error: unknown) => reportError(toCasegraphError(error)),
    complete: () => handlers.onComplete?.(),
  });

  return {
    unsubscribe: dispose,
    get lastCursor() {
      return lastCursor;
    },
  };
}
