// Trusted documents against the live portal server (TRUSTED_DOCUMENTS=public, the SDK's manifest
// registered by tests/global-setup.ts): hashes on the wire, text only where the server takes it.
import { createHash } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  CasegraphError,
  PortalMyRequestsDocument,
  PortalViewerDocument,
  toWebSocketUrl,
  type FetchLike,
} from '../src/index.js';
import { adminClient, customerClient, live } from './support/live.js';

interface Sent {
  body: Record<string, unknown>;
  status: number;
}

/** fetch that records what went over the wire and the status that came back. */
function recording(): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: FetchLike = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    sent.push({ body: JSON.parse(String(init.body)) as Record<string, unknown>, status: response.status });
    return response;
  };
  return { fetch, sent };
}

type Viewer = { viewer: { subject: string } };

/** Client options for the portal server (the trusted-documents deployment). */
function portal(): { url: string; wsUrl: string } {
  return { url: live().trustedUrl, wsUrl: toWebSocketUrl(live().trustedUrl) };
}

/** A document the build never saw: not in the manifest, so not registered. */
const unregistered = parse('query Unregistered { viewer { subject roles } }') as TypedDocumentNode<Viewer, Record<string, never>>;

/** Like a generated document, but of a text the server has never been given. */
function withUnknownHash(text: string): TypedDocumentNode<Viewer, Record<string, never>> {
  const document = parse(text) as TypedDocumentNode<Viewer, Record<string, never>> & { __meta__?: unknown };
  document.__meta__ = { hash: createHash('sha256').update(text).digest('hex'), query: text };
  return document;
}

describe('trusted documents (TRUSTED_DOCUMENTS=public)', () => {
  it('a customer runs the registered documents by hash alone', async () => {
    const { fetch, sent } = recording();
    const client = customerClient({ fetch, ...portal() });
    const { viewer } = await client.request(PortalViewerDocument);
    expect(viewer.customer).not.toBeNull();
    const page = await client.request(PortalMyRequestsDocument, { first: 5 });
    expect(page.serviceRequests.nodes.length).toBeGreaterThan(0);
    expect(sent).toHaveLength(2);
    for (const { body, status } of sent) {
      expect(status).toBe(200);
      expect(body.query).toBeUndefined();
      expect(body.extensions).toEqual({ persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    }
  });

  it('a customer may not run other documents, by text or by hash', async () => {
    const { fetch, sent } = recording();
    const client = customerClient({ fetch, ...portal() });
    const byText = await client.request(unregistered).catch((e: unknown) => e);
    expect(byText).toBeInstanceOf(CasegraphError);
    expect((byText as CasegraphError).code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((byText as CasegraphError).status).toBe(400);

    // Hash first, then the text once; the server refuses both, so the client stops offering text.
    const unknown = withUnknownHash(`query NotBuilt${Date.now()} { viewer { subject scopes } }`);
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await client.request(unknown).catch((e: unknown) => e);
      expect((error as CasegraphError).code).toBe('PERSISTED_QUERY_NOT_FOUND');
    }
    expect(sent.map((s) => [s.status, 'query' in s.body])).toEqual([
      [400, true],
      [400, false],
      [400, true],
      [400, false],
    ]);
  });

  it('staff run any document, and register new ones by sending their text once (APQ)', async () => {
    const { fetch, sent } = recording();
    const client = adminClient({ fetch, ...portal() });
    expect((await client.request(unregistered)).viewer.subject).toBe('admin@example.com');
    const text = `query Adhoc${Date.now()} { viewer { subject } }`;
    const adhoc = withUnknownHash(text);
    expect((await client.request(adhoc)).viewer.subject).toBe('admin@example.com');
    expect((await client.request(adhoc)).viewer.subject).toBe('admin@example.com');
    expect(sent.map((s) => [s.status, 'query' in s.body])).toEqual([
      [200, true], // no hash: the text
      [400, false], // an unknown hash ...
      [200, true], // ... then the text with it
      [200, false], // from then on the hash alone
    ]);
  });
});
