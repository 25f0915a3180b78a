// Verifying casegraph webhook deliveries (WEBHOOKS.md) with the official `standardwebhooks`
// package: pass the raw body exactly as received and the request's headers.
//
//   import { verifyWebhook } from '@casegraph/sdk/webhooks';  // server-side; not in the browser bundle
//   const delivery = verifyWebhook(process.env.CASEGRAPH_WEBHOOK_SECRET!, rawBody, req.headers);
//   if (seen.has(delivery.webhookId)) return;  // at least once: deduplicate by webhook-id
//   switch (delivery.payload.type) { case 'STATUS_CHANGED': ... }
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { RequestEventKind, RequestStatus, Priority, CommentVisibility, ApprovalKind, ApprovalStatus } from './generated/schema.js';

export { WebhookVerificationError };

/** The `data` of a request event delivery. */
export interface WebhookEventData {
  eventId: string;
  /** Stream position: `redeliverWebhooks(after:)` and `requestEvents(after:)` take it. */
  cursor: string;
  serviceRequest: {
    id: string;
    number: string;
    status: RequestStatus;
    priority: Priority;
    version: number;
    customerExternalRef: string;
  };
  fromStatus: RequestStatus | null;
  toStatus: RequestStatus | null;
  actorName: string;
  comment: { id: string; body: string; visibility: CommentVisibility } | null;
  approval: { id: string; kind: ApprovalKind; status: ApprovalStatus } | null;
}

/** A delivery's body: a request event, or the PING `sendTestWebhook` sends. */
export type WebhookPayload =
  | { type: RequestEventKind; timestamp: string; data: WebhookEventData }
  | { type: 'PING'; timestamp: string; data: { endpointId: string } };

export interface VerifiedWebhook {
  /** `webhook-id`: the same on every retry and redelivery of one event to one endpoint. */
  webhookId: string;
  payload: WebhookPayload;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function headerRecord(headers: HeaderBag): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Verify a delivery's signature (either secret during a rotation's 24-hour overlap verifies) and
 * timestamp (within 5 minutes), then parse it. Throws `WebhookVerificationError` otherwise.
 *
 * @param secret the endpoint's `whsec_…` secret, as `createWebhookEndpoint`/`rotateWebhookSecret` returned it
 * @param body the raw request body, unparsed (string or bytes)
 * @param headers the request headers (a fetch `Headers` or Node's `IncomingHttpHeaders`)
 */
export function verifyWebhook(secret: string, body: string | Uint8Array, headers: HeaderBag): VerifiedWebhook {
  const record = headerRecord(headers);
  const payload = new Webhook(secret).verify(body, record) as WebhookPayload;
  return { webhookId: record['webhook-id'] ?? '', payload };
}
