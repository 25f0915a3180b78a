// Who the console acts as: a development identity (token from POST /console/dev-token) or a pasted token.
import { CasegraphError, type TokenProvider } from '../src/index.js';

export interface DevIdentity {
  subject: string;
  name: string;
  role: string;
  teams: string[];
}

/** Active staff members, for the identity picker; empty when the helper refused (not on loopback). */
export async function loadIdentities(): Promise<{ identities: DevIdentity[]; refused?: string }> {
  const response = await fetch('/console/dev-identities', { headers: { accept: 'application/json' } });
  const body = (await response.json().catch(() => ({}))) as { identities?: DevIdentity[]; error?: string };
  if (!response.ok) return { identities: [], refused: body.error ?? `HTTP ${response.status}` };
  return { identities: body.identities ?? [] };
}

/** A fresh token for a staff member from the development helper. */
export async function mintDevToken(subject: string): Promise<string> {
  const response = await fetch('/console/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ subject }),
  });
  const body = (await response.json().catch(() => ({}))) as { accessToken?: string; error?: string };
  if (!response.ok || !body.accessToken) {
    throw new CasegraphError('UNAUTHENTICATED', body.error ?? `dev token refused (HTTP ${response.status})`, {
      status: response.status,
    });
  }
  return body.accessToken;
}

/** Where the token comes from; `getToken` re-mints after a refusal when it can. */
export class Session {
  private constructor(
    private token: string,
    /** Set for development identities: a refused (expired) token is re-minted for it. */
    readonly subject: string | null,
  ) {}

  static async forIdentity(subject: string): Promise<Session> {
    return new Session(await mintDevToken(subject), subject);
  }

  static withToken(token: string): Session {
    return new Session(token.trim().replace(/^Bearer\s+/i, ''), null);
  }

  readonly getToken: TokenProvider = async (options) => {
    if (options?.forceRefresh && this.subject) this.token = await mintDevToken(this.subject);
    return this.token;
  };
}
