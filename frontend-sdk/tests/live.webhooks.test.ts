// Webhooks against the live server (WEBHOOKS.md): the partner registers an endpoint with the typed
// operations, the server's own worker delivers, and `verifyWebhook` (the official
// `standardwebhooks` package) accepts the deliveries — and refuses them under another secret.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Channel,
  PartnerCreateServiceRequestDocument,
  PartnerCreateWebhookEndpointDocument,
  PartnerCustomersDocument,
  PartnerDeleteWebhookEndpointDocument,
  PartnerSendTestWebhookDocument,
  PartnerWebhookDeliveriesDocument,
  RequestEventKind,
  RequestType,
  WebhookDeliveryStatus,
  assertNoUserErrors,
  clientCredentials,
} from '../src/index.js';
import { WebhookVerificationError, verifyWebhook } from '../src/webhooks.js';
import { clientWith, live, waitFor } from './support/live.js';

interface Arrival {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

let receiver: Server;
let receiverUrl = '';
const arrivals: Arrival[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      arrivals.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/casegraph`;
});

afterAll(async () => {
  await new Promise((ok) => receiver.close(ok));
});

describe('webhooks', () => {
  it('a partner endpoint receives signed deliveries that verifyWebhook accepts', async (ctx) => {
    const server = live();
    if (!server.partner) ctx.skip();
    const partner = clientWith(
      clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: server.partner!.clientId,
        clientSecret: server.partner!.clientSecret,
      }),
    );
    const created = assertNoUserErrors(
      await partner.mutate(PartnerCreateWebhookEndpointDocument, {
        input: { url: receiverUrl, eventKinds: [RequestEventKind.CREATED], description: 'SDK test' },
      }),
    );
    const endpoint = created.endpoint!;
    const secret = created.secret!;
    expect(secret.startsWith('whsec_')).toBe(true);
    expect(endpoint.ownerClientId).toBe(server.partner!.clientId);

    // A PING, then a real event: a request the partner creates for a linked customer.
    assertNoUserErrors(await partner.mutate(PartnerSendTestWebhookDocument, { input: { id: endpoint.id } }));
    const { customers } = await partner.request(PartnerCustomersDocument, { first: 1 });
    const request = assertNoUserErrors(
      await partner.mutate(PartnerCreateServiceRequestDocument, {
        input: {
          customerId: customers.nodes[0]!.id,
          type: RequestType.GENERAL_INQUIRY,
          channel: Channel.PARTNER_API,
          subject: 'webhook test',
          description: 'a request whose CREATED event is pushed',
          idempotencyKey: randomUUID(),
        },
      }),
    ).serviceRequest!;
    await waitFor(() => arrivals.length >= 2, 20_000, 'two deliveries');

    const verified = arrivals.map((a) => verifyWebhook(secret, a.body, a.headers));
    const ping = verified.find((v) => v.payload.type === 'PING');
    const event = verified.find((v) => v.payload.type === RequestEventKind.CREATED);
    expect(ping?.payload.data).toEqual({ endpointId: endpoint.id });
    if (event?.payload.type !== RequestEventKind.CREATED) throw new Error('no CREATED delivery');
    expect(event.payload.data.serviceRequest.number).toBe(request.number);
    expect(event.webhookId).toBe(arrivals.find((a) => a.body.includes('"CREATED"'))!.headers['webhook-id']);

    // Another secret, or a changed body, does not verify.
    const other = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    expect(() => verifyWebhook(other, arrivals[0]!.body, arrivals[0]!.headers)).toThrow(WebhookVerificationError);
    const tampered = Buffer.from(arrivals[0]!.body.toString().replace('}', ' }'));
    expect(() => verifyWebhook(secret, tampered, arrivals[0]!.headers)).toThrow(WebhookVerificationError);

    // The delivery log says so too, once the results are written.
    const deliveries = async () =>
      (await partner.request(PartnerWebhookDeliveriesDocument, { endpointId: endpoint.id })).webhookDeliveries;
    let log = await deliveries();
    for (let i = 0; i < 100 && log.nodes.some((d) => d.status !== WebhookDeliveryStatus.DELIVERED); i++) {
      await new Promise((r) => setTimeout(r, 100));
      log = await deliveries();
    }
    expect(log.totalCount).toBe(2);
    expect(log.nodes.map((d) => [d.status, d.lastStatusCode])).toEqual([
      [WebhookDeliveryStatus.DELIVERED, 204],
      [WebhookDeliveryStatus.DELIVERED, 204],
    ]);
    assertNoUserErrors(await partner.mutate(PartnerDeleteWebhookEndpointDocument, { input: { id: endpoint.id } }));
  });
});
