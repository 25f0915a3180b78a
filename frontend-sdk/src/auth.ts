// Token providers for createCasegraphClient({ getToken }).
import { CasegraphError } from './errors.js';
import type { FetchLike, TokenProvider } from './http.js';

export interface ClientCredentialsOptions {
  /** The token endpoint, e.g. `https://casegraph.example.com/oauth/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes to ask for; default: all the partner is granted. */
  scope?: string;
  fetch?: FetchLike;
  /** Renew this many seconds before the token expires; default 60. */
  earlySeconds?: number;
}

interface TokenResponse {
  access_token?: unknown;
  expires_in?: unknown;
  error?: unknown;
  error_description?: unknown;
}

/**
 * A TokenProvider for partner systems: OAuth 2 client_credentials against casegraph's
 * `/oauth/token`, cached until shortly before expiry, renewed on `forceRefresh`.
 * Concurrent callers share one token request.
 */
export function clientCredentials(options: ClientCredentialsOptions): TokenProvider {
  const early = (options.earlySeconds ?? 60) * 1000;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: options.clientId,
      client_secret: options.clientSecret,
    });
    if (options.scope) form.set('scope', options.scope);
    const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    let response: Response;
    try {
      response = await doFetch(options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
      });
    } catch (cause) {
      throw new CasegraphError('NETWORK_ERROR', `token request failed: ${String(cause)}`, { cause });
    }
    const body = (await response.json().catch(() => ({}))) as TokenResponse;
    if (!response.ok || typeof body.access_token !== 'string') {
      const reason = typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
      const detail = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
      throw new CasegraphError('UNAUTHENTICATED', `client_credentials refused (${reason}${detail})`, {
        status: response.status,
      });
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 300_000;
    cached = { token: body.access_token, expiresAt: Date.now() + Math.max(lifetime - early, lifetime / 2) };
    return body.access_token;
  };

  return async (request) => {
    if (!request?.forceRefresh && cached && Date.now() < cached.expiresAt) return cached.token;
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
