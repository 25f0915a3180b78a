// A customer portal page in miniature, bundled with the SDK for the browser by portal.test.ts and
// served from an origin of its own: it queries, mutates and subscribes against the API's origin.
import {
  Channel,
  PortalCreateServiceRequestDocument,
  PortalRequestStatusDocument,
  PortalViewerDocument,
  RequestType,
  createCasegraphClient,
  type CasegraphError,
} from '../../src/index.js';

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string };

const params = new URLSearchParams(location.hash.slice(1));
const client = createCasegraphClient({
  url: params.get('api') ?? '',
  getToken: () => params.get('token') ?? '',
  retryWait: () => new Promise((r) => setTimeout(r, 200)),
});

async function attempt(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    const e = error as CasegraphError;
    return { ok: false, code: e.code ?? 'UNKNOWN', message: String(e.message ?? e) };
  }
}

const events: unknown[] = [];
const subscriptionErrors: string[] = [];

const portal = {
  events,
  subscriptionErrors,
  viewer: () => attempt(() => client.request(PortalViewerDocument)),
  create: (subject: string) =>
    attempt(() =>
      client.mutate(PortalCreateServiceRequestDocument, {
        input: {
          type: RequestType.GENERAL_INQUIRY,
          channel: Channel.PORTAL,
          subject,
          description: `${subject} (from the portal page)`,
          idempotencyKey: crypto.randomUUID(),
        },
      }),
    ),
  subscribe: (serviceRequestId: string): void => {
    client.subscribe(PortalRequestStatusDocument, { serviceRequestId }, {
      onEvent: (data) => events.push(data.requestEvents),
      onError: (error) => subscriptionErrors.push(error.code),
    });
  },
};

(window as unknown as { portal: typeof portal }).portal = portal;
document.body.dataset['ready'] = 'true';
