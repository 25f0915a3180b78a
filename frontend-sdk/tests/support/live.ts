// What the global setup hands to the live tests, and helpers to build clients from it.
import { inject } from 'vitest';
import WebSocket from 'ws';
import { createCasegraphClient, type CasegraphClient, type CasegraphClientOptions } from '../../src/index.js';

export interface LiveServer {
  url: string;
  wsUrl: string;
  /** The same database served in TRUSTED_DOCUMENTS=public mode, the SDK's manifest registered. */
  trustedUrl: string;
  tokenUrl: string;
  /** admin@example.com (ADMIN, CONTROLLER). */
  adminToken: string;
  /** A CUSTOMER of `customerRef`. */
  customerToken: string;
  customerRef: string;
  /** A port on localhost whose origin (http://localhost:PORT) is in the server's CORS_ALLOWED_ORIGINS. */
  portalPort: number;
  /** The demo partner's client credentials, when `casegraph partner-secret` worked. */
  partner: { clientId: string; clientSecret: string } | null;
  /** The server's CASEGRAPH_DATA_DIR and `casegraph` binary, for CLI commands beside it (support/cli.ts). */
  dataDir: string;
  casegraphBin: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    casegraph: LiveServer;
  }
}

export function live(): LiveServer {
  return inject('casegraph');
}

/** A client on the live server; Node 20 has no global WebSocket, so `ws` is passed. */
export function clientWith(
  getToken: CasegraphClientOptions['getToken'],
  extra: Partial<CasegraphClientOptions> = {},
): CasegraphClient {
  const server = live();
  return createCasegraphClient({
    url: server.url,
    wsUrl: server.wsUrl,
    getToken,
    webSocketImpl: WebSocket,
    // Reconnect quickly in tests.
    retryWait: () => new Promise((r) => setTimeout(r, 100)),
    ...extra,
  });
}

export const adminClient = (extra?: Partial<CasegraphClientOptions>): CasegraphClient =>
  clientWith(() => live().adminToken, extra);

export const customerClient = (extra?: Partial<CasegraphClientOptions>): CasegraphClient =>
  clientWith(() => live().customerToken, extra);

/** Resolve when `predicate` holds, polling every 20 ms; reject after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
