// One form per transition: what it asks for, and the SDK mutation that performs it.
//
// Every mutation carries `expectedVersion` = the version the agent was looking at when they
// opened the form. When someone changed the request meanwhile the server answers
// VERSION_CONFLICT and nothing happens: the page reloads the request and says so.
import {
  ApprovalKind,
  ConsoleAssignDocument,
  ConsoleCancelDocument,
  ConsoleEscalateDocument,
  ConsoleRequestApprovalDocument,
  ConsoleRequestCustomerInfoDocument,
  ConsoleResolveDocument,
  ConsoleStartWorkDocument,
  ConsoleTriageDocument,
  PortalCloseServiceRequestDocument,
  PortalProvideCustomerInfoDocument,
  PortalReopenServiceRequestDocument,
  Priority,
  ResolutionCode,
  TransitionAction,
  type CasegraphClient,
  type UserErrorLike,
} from '../src/index.js';
import { humanize } from './dom.js';

export interface FieldSpec {
  name: string;
  label: string;
  kind: 'textarea' | 'select' | 'text';
  required: boolean;
  options?: ReadonlyArray<readonly [value: string, label: string]>;
  initial?: string;
  placeholder?: string;
}

/** What the form knows about the request and the agent. */
export interface ActionTarget {
  id: string;
  number: string;
  version: number;
  priority: string;
  currency: string | null;
  /** The signed-in agent's ID, for "assign to me". */
  agentId: string | null;
  agentName: string | null;
}

export interface ActionSpec {
  label: string;
  /** Shown in red: the action ends or derails the request. */
  danger?: boolean;
  fields(target: ActionTarget): FieldSpec[];
  run(client: CasegraphClient, target: ActionTarget, values: Record<string, string>): Promise<readonly UserErrorLike[]>;
}

const options = (values: Record<string, string>): Array<readonly [string, string]> =>
  Object.values(values).map((v) => [v, humanize(v)] as const);

const message = (required: boolean, label = 'Message'): FieldSpec => ({
  name: 'message',
  label: required ? label : `${label} (optional)`,
  kind: 'textarea',
  required,
  placeholder: required ? 'Becomes a PUBLIC comment the customer sees' : 'Shown on the timeline',
});

const optional = (value: string | undefined): string | null => (value && value.trim() ? value.trim() : null);

/** A plain transition (`TransitionServiceRequestInput`): id, expectedVersion, message. */
function transition(
  label: string,
  messageRequired: boolean,
  perform: (client: CasegraphClient, input: { id: string; expectedVersion: number; message: string | null }) => Promise<{ userErrors: readonly UserErrorLike[] }>,
  danger = false,
): ActionSpec {
  return {
    label,
    danger,
    fields: () => [message(messageRequired)],
    run: async (client, target, values) =>
      (await perform(client, { id: target.id, expectedVersion: target.version, message: optional(values['message']) }))
        .userErrors,
  };
}

export const ACTIONS: Record<TransitionAction, ActionSpec> = {
  [TransitionAction.TRIAGE]: {
    label: 'Triage',
    fields: (t) => [{ name: 'priority', label: 'Priority', kind: 'select', required: true, options: options(Priority), initial: t.priority }],
    run: async (client, t, v) =>
      (
        await client.mutate(ConsoleTriageDocument, {
          input: { id: t.id, expectedVersion: t.version, priority: (v['priority'] ?? t.priority) as Priority },
        })
      ).userErrors,
  },
  [TransitionAction.ASSIGN]: {
    label: 'Assign',
    fields: (t) => [
      {
        name: 'assignee',
        label: 'Assign to',
        kind: 'select',
        required: true,
        options: [...(t.agentId ? [['me', `Me (${t.agentName ?? 'signed-in agent'})`] as const] : []), ['routing', 'Let routing pick']],
      },
    ],
    run: async (client, t, v) =>
      (
        await client.mutate(ConsoleAssignDocument, {
          input: { id: t.id, expectedVersion: t.version, ...(v['assignee'] === 'me' && t.agentId ? { assigneeId: t.agentId } : {}) },
        })
      ).userErrors,
  },
  [TransitionAction.START_WORK]: transition('Start work', false, (c, input) => c.mutate(ConsoleStartWorkDocument, { input })),
  [TransitionAction.REQUEST_CUSTOMER_INFO]: transition('Ask the customer', true, (c, input) =>
    c.mutate(ConsoleRequestCustomerInfoDocument, { input }),
  ),
  [TransitionAction.PROVIDE_CUSTOMER_INFO]: transition('Customer info received', true, (c, input) =>
    c.mutate(PortalProvideCustomerInfoDocument, { input }),
  ),
  [TransitionAction.REQUEST_APPROVAL]: {
    label: 'Request approval',
    fields: (t) => [
      { name: 'kind', label: 'Approval for', kind: 'select', required: true, options: options(ApprovalKind) },
      { name: 'amount', label: 'Amount (money kinds)', kind: 'text', required: false, placeholder: '1250.00' },
      { name: 'currency', label: 'Currency', kind: 'text', required: false, initial: t.currency ?? 'EUR' },
      { name: 'justification', label: 'Justification', kind: 'textarea', required: true },
    ],
    run: async (client, t, v) => {
      const amount = optional(v['amount']);
      return (
        await client.mutate(ConsoleRequestApprovalDocument, {
          input: {
            serviceRequestId: t.id,
            expectedVersion: t.version,
            kind: v['kind'] as ApprovalKind,
            justification: v['justification'] ?? '',
            // Decimal as a string, exactly as typed: money is never a float.
            ...(amount ? { amount: { amount, currency: (optional(v['currency']) ?? 'EUR').toUpperCase() } } : {}),
          },
        })
      ).userErrors;
    },
  },
  [TransitionAction.RESOLVE]: {
    label: 'Resolve',
    fields: () => [
      { name: 'code', label: 'Resolution', kind: 'select', required: true, options: options(ResolutionCode) },
      { name: 'summary', label: 'Summary (the customer sees it)', kind: 'textarea', required: true },
    ],
    run: async (client, t, v) =>
      (
        await client.mutate(ConsoleResolveDocument, {
          input: { id: t.id, expectedVersion: t.version, code: v['code'] as ResolutionCode, summary: v['summary'] ?? '' },
        })
      ).userErrors,
  },
  [TransitionAction.CLOSE]: transition('Close', false, (c, input) => c.mutate(PortalCloseServiceRequestDocument, { input })),
  [TransitionAction.REOPEN]: transition('Reopen', false, (c, input) => c.mutate(PortalReopenServiceRequestDocument, { input })),
  [TransitionAction.CANCEL]: transition('Cancel request', false, (c, input) => c.mutate(ConsoleCancelDocument, { input }), true),
  [TransitionAction.ESCALATE]: transition('Escalate', false, (c, input) => c.mutate(ConsoleEscalateDocument, { input }), true),
};
