// Fixtures made through the SDK itself.
import { randomUUID } from 'node:crypto';
import {
  Channel,
  PortalCreateServiceRequestDocument,
  RequestType,
  assertNoUserErrors,
  type CasegraphClient,
  type RequestSummaryFragment,
} from '../../src/index.js';

/** A GENERAL_INQUIRY opened through the portal by the test customer. */
export async function openRequest(customer: CasegraphClient, subject: string): Promise<RequestSummaryFragment> {
  const payload = assertNoUserErrors(
    await customer.mutate(PortalCreateServiceRequestDocument, {
      input: {
        type: RequestType.GENERAL_INQUIRY,
        channel: Channel.PORTAL,
        subject,
        description: `${subject} (created by the SDK tests)`,
        idempotencyKey: randomUUID(),
      },
    }),
  );
  if (!payload.serviceRequest) throw new Error('createServiceRequest returned no request and no userErrors');
  return payload.serviceRequest;
}
