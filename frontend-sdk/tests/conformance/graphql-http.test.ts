// GraphQL over HTTP conformance, judged by a client nobody here wrote: the `graphql-http`
// audit suite (every MUST, SHOULD and MAY of the spec it checks) and its client.
import { createClient, serverAudits, type AuditResult } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { live } from '../support/live.js';

// Every operation needs a bearer token (ACCESS.md); the audits know nothing of that, so every
// request they make goes out with the admin's Authorization header added.
const withToken = (token: string) => (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const audits = serverAudits({ url: () => live().url, fetchFn: withToken(live().adminToken) });

function explain(result: AuditResult): string {
  return result.status === 'ok' ? 'ok' : `${result.status}: ${result.reason}`;
}

describe('graphql-http serverAudits', () => {
  it('knows a full audit list', () => {
    expect(audits.length).toBeGreaterThan(40);
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      // Not only the MUSTs: warnings (SHOULD) and notices (MAY) count as failures here too.
      expect(explain(result)).toBe('ok');
    });
  }
});

describe('graphql-http client', () => {
  it('runs a query over POST with the bearer token', async () => {
    const client = createClient({
      url: live().url,
      headers: { authorization: `Bearer ${live().adminToken}` },
    });
    const result = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe(
        { query: '{ viewer { subject roles } teams { id name } }' },
        { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
      );
    });
    expect(result).toMatchObject({ data: { viewer: { subject: 'admin@example.com' } } });
    expect((result as { data: { teams: unknown[] } }).data.teams.length).toBeGreaterThan(0);
    client.dispose();
  });

  it('surfaces the 401 of a request without a token as an error', async () => {
    const client = createClient({ url: live().url });
    const outcome = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: '{ viewer { subject } }' }, { next: resolve, error: resolve, complete: () => undefined });
    });
    expect(outcome).toBeInstanceOf(Error);
    expect(String((outcome as { response?: Response }).response?.status ?? outcome)).toContain('401');
    client.dispose();
  });
});
