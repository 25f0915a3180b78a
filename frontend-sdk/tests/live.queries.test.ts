// Queries, errors and mutations against the live server started by tests/global-setup.ts.
import { randomUUID } from 'node:crypto';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CasegraphError,
  Channel,
  ConsoleMetricsDocument,
  ConsoleRequestDetailDocument,
  ConsoleTeamQueueDocument,
  ConsoleTeamsDocument,
  ConsoleTriageDocument,
  ConsoleViewerDocument,
  PartnerCreateServiceRequestDocument,
  PartnerCustomersDocument,
  PartnerRequestByNumberDocument,
  PortalCreateServiceRequestDocument,
  PortalMyRequestsDocument,
  PortalRequestDetailDocument,
  PortalViewerDocument,
  RequestStatus,
  RequestType,
  Role,
  TransitionAction,
  UserErrorCode,
  UserErrorsError,
  assertNoUserErrors,
  clientCredentials,
} from '../src/index.js';
import { adminClient, clientWith, customerClient, live } from './support/live.js';
import { openRequest } from './support/requests.js';

describe('typed queries', () => {
  it('viewer: the admin token is ADMIN staff', async () => {
    const { viewer } = await adminClient().request(ConsoleViewerDocument);
    expectTypeOf(viewer.roles).toEqualTypeOf<Role[]>();
    expect(viewer.subject).toBe('admin@example.com');
    expect(viewer.roles).toContain(Role.ADMIN);
    expect(viewer.agent?.email).toBe('admin@example.com');
  });

  it('viewer: the customer token belongs to its customer', async () => {
    const { viewer } = await customerClient().request(PortalViewerDocument);
    expect(viewer.roles).toEqual([Role.CUSTOMER]);
    expect(viewer.customer?.externalRef).toBe(live().customerRef);
  });

  it('serviceRequests: the portal lists only the customer’s own requests', async () => {
    const data = await customerClient().request(PortalMyRequestsDocument, { first: 50 });
    expect(data.serviceRequests.nodes.length).toBeGreaterThan(0);
    for (const request of data.serviceRequests.nodes) {
      expect(request.customer.externalRef).toBe(live().customerRef);
      expect(request.number).toMatch(/^SR-\d+$/);
      expectTypeOf(request.status).toEqualTypeOf<RequestStatus>();
    }
    const all = await adminClient().request(PortalMyRequestsDocument, { first: 1 });
    expect(all.serviceRequests.totalCount).toBeGreaterThanOrEqual(data.serviceRequests.totalCount);
  });

  it('serviceRequests: a console team queue holds only open requests of that team', async () => {
    const admin = adminClient();
    const { teams } = await admin.request(ConsoleTeamsDocument);
    const billing = teams.find((t) => t.name === 'Billing') ?? teams[0];
    if (!billing) throw new Error('no teams');
    const queue = await admin.request(ConsoleTeamQueueDocument, { teamId: billing.id, first: 20 });
    for (const request of queue.serviceRequests.nodes) {
      expect([
        RequestStatus.NEW, RequestStatus.TRIAGED, RequestStatus.IN_PROGRESS,
        RequestStatus.WAITING_ON_CUSTOMER, RequestStatus.PENDING_APPROVAL,
      ]).toContain(request.status);
    }
  });

  it('node(id): request detail with availableTransitions', async () => {
    const request = await openRequest(customerClient(), 'detail please');
    const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id: request.id });
    if (node?.__typename !== 'ServiceRequest') throw new Error(`expected a ServiceRequest, got ${node?.__typename}`);
    expect(node.number).toBe(request.number);
    expect(node.availableTransitions.map((t) => t.action)).toContain(TransitionAction.TRIAGE);
    const portal = await customerClient().request(PortalRequestDetailDocument, { id: request.id });
    if (portal.node?.__typename !== 'ServiceRequest') throw new Error('customer cannot read own request');
    expect(portal.node.availableTransitions.map((t) => t.action)).not.toContain(TransitionAction.TRIAGE);
  });
});

describe('top-level errors surface as CasegraphError', () => {
  it('FORBIDDEN: a customer may not read metrics', async () => {
    const error = await customerClient().request(ConsoleMetricsDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasegraphError);
    expect((error as CasegraphError).code).toBe('FORBIDDEN');
  });

  it('BAD_USER_INPUT: first above 100', async () => {
    const error = await adminClient().request(PortalMyRequestsDocument, { first: 101 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasegraphError);
    expect((error as CasegraphError).code).toBe('BAD_USER_INPUT');
  });

  it('UNAUTHENTICATED: a bad token is HTTP 401', async () => {
    const error = await clientWith(() => 'not-a-token').request(PortalViewerDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasegraphError);
    expect((error as CasegraphError).code).toBe('UNAUTHENTICATED');
    expect((error as CasegraphError).status).toBe(401);
  });
});

describe('mutations', () => {
  it('userErrors are data, typed by UserErrorCode', async () => {
    // A billing dispute needs an invoice and an amount (LIFECYCLE.md §2).
    const payload = await customerClient().mutate(PortalCreateServiceRequestDocument, {
      input: { type: RequestType.BILLING_DISPUTE, channel: Channel.PORTAL, subject: 'no invoice', description: 'x' },
    });
    expectTypeOf(payload.userErrors).toEqualTypeOf<
      Array<{ field: string[] | null; message: string; code: UserErrorCode }>
    >();
    expect(payload.serviceRequest).toBeNull();
    expect(payload.userErrors.map((e) => e.code)).toContain(UserErrorCode.VALIDATION_FAILED);
    expect(() => assertNoUserErrors(payload)).toThrow(UserErrorsError);
  });

  it('createServiceRequest with an idempotencyKey: a retry returns the same request', async () => {
    const client = customerClient();
    const input = {
      type: RequestType.GENERAL_INQUIRY,
      channel: Channel.PORTAL,
      subject: 'idempotent',
      description: 'submitted twice',
      idempotencyKey: randomUUID(),
    };
    const first = assertNoUserErrors(await client.mutate(PortalCreateServiceRequestDocument, { input }));
    const again = assertNoUserErrors(await client.mutate(PortalCreateServiceRequestDocument, { input }));
    expect(again.serviceRequest?.id).toBe(first.serviceRequest?.id);
    const changed = await client.mutate(PortalCreateServiceRequestDocument, { input: { ...input, subject: 'other' } });
    expect(changed.userErrors.map((e) => e.code)).toEqual([UserErrorCode.DUPLICATE]);
  });

  it('console: act on availableTransitions, stale versions are VERSION_CONFLICT', async () => {
    const request = await openRequest(customerClient(), 'please triage');
    const admin = adminClient();
    const triaged = assertNoUserErrors(
      await admin.mutate(ConsoleTriageDocument, { input: { id: request.id, expectedVersion: request.version } }),
    );
    expect(triaged.serviceRequest?.status).toBe(RequestStatus.TRIAGED);
    expect(triaged.serviceRequest?.version).toBe(request.version + 1);
    const stale = await admin.mutate(ConsoleTriageDocument, {
      input: { id: request.id, expectedVersion: request.version },
    });
    expect(stale.userErrors[0]?.code).toBe(UserErrorCode.VERSION_CONFLICT);
  });
});

describe('partner', () => {
  it('client_credentials token, create for a linked customer, status by number', async (ctx) => {
    const server = live();
    if (!server.partner) ctx.skip();
    const partner = clientWith(
      clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: server.partner!.clientId,
        clientSecret: server.partner!.clientSecret,
      }),
    );
    const { customers } = await partner.request(PartnerCustomersDocument, { first: 10 });
    const customer = customers.nodes[0];
    if (!customer) throw new Error('the partner sees no linked customer');
    const created = assertNoUserErrors(
      await partner.mutate(PartnerCreateServiceRequestDocument, {
        input: {
          customerId: customer.id,
          type: RequestType.GENERAL_INQUIRY,
          channel: Channel.PARTNER_API,
          subject: 'from the ERP',
          description: 'partner integration test',
          idempotencyKey: randomUUID(),
        },
      }),
    );
    const number = created.serviceRequest?.number;
    if (!number) throw new Error('no request number');
    const { serviceRequestByNumber } = await partner.request(PartnerRequestByNumberDocument, { number });
    expect(serviceRequestByNumber?.status).toBe(RequestStatus.NEW);
    expect(serviceRequestByNumber?.customer.id).toBe(customer.id);
  });
});
