// Held mail (EMAIL.md 4): mail from unknown or unverified senders waits here until an agent links it
// to a customer (creating the request, optionally making the sender a contact) or discards it.
import {
  ConsoleDiscardInboundMailDocument,
  ConsoleHeldMailsDocument,
  ConsoleLinkInboundMailDocument,
  type CasegraphClient,
  type ConsoleHeldMailsQuery,
} from '../src/index.js';
import { formatInstant, h } from './dom.js';

type HeldMail = ConsoleHeldMailsQuery['inboundMails']['nodes'][number];
type CustomerOption = ConsoleHeldMailsQuery['customers']['nodes'][number];

export interface HeldMailHooks {
  /** A request was created from a held mail: open it. */
  opened(requestId: string, number: string): void;
  notice(text: string, kind: 'success' | 'error'): void;
}

export class HeldMails {
  constructor(
    private readonly root: HTMLElement,
    private readonly hooks: HeldMailHooks,
  ) {}

  async load(client: CasegraphClient): Promise<void> {
    const { inboundMails, customers } = await client.request(ConsoleHeldMailsDocument);
    this.root.hidden = false;
    this.root.dataset['count'] = String(inboundMails.totalCount);
    this.root.replaceChildren(
      h('summary', {}, `Held mail (${inboundMails.totalCount})`,
        h('button', { type: 'button', class: 'link', onclick: () => void this.load(client) }, 'refresh')),
      ...(inboundMails.nodes.length
        ? inboundMails.nodes.map((mail) => this.item(client, mail, customers.nodes))
        : [h('p', { class: 'muted' }, 'No mail waiting.')]),
    );
  }

  private item(client: CasegraphClient, mail: HeldMail, customers: readonly CustomerOption[]): HTMLElement {
    const customer = h('select', { name: 'customer', 'aria-label': 'Customer', 'data-testid': 'held-customer' },
      ...customers.map((c) => h('option', { value: c.id }, `${c.name} (${c.externalRef})`)));
    const createContact = h('input', { type: 'checkbox', name: 'createContact', checked: true, 'data-testid': 'held-create-contact' });
    const reason = h('input', { type: 'text', name: 'reason', placeholder: 'why discard', 'data-testid': 'held-reason' });
    const errors = h('ul', { class: 'form-errors', role: 'alert' });
    const fail = (messages: string[]): void => errors.replaceChildren(...messages.map((m) => h('li', {}, m)));
    const link = async (): Promise<void> => {
      const linkInboundMail = await client.mutate(ConsoleLinkInboundMailDocument, {
        input: { inboundMailId: mail.id, customerId: customer.value, createContact: createContact.checked },
      });
      if (linkInboundMail.userErrors.length || !linkInboundMail.serviceRequest) {
        fail(linkInboundMail.userErrors.map((e) => `${e.code}: ${e.message}`));
        return;
      }
      this.hooks.notice(`${linkInboundMail.serviceRequest.number} created from the mail of ${mail.from}.`, 'success');
      await this.load(client);
      this.hooks.opened(linkInboundMail.serviceRequest.id, linkInboundMail.serviceRequest.number);
    };
    const discard = async (): Promise<void> => {
      const discardInboundMail = await client.mutate(ConsoleDiscardInboundMailDocument, {
        input: { inboundMailId: mail.id, reason: reason.value },
      });
      if (discardInboundMail.userErrors.length) {
        fail(discardInboundMail.userErrors.map((e) => `${e.code}: ${e.message}`));
        return;
      }
      await this.load(client);
    };
    const guarded = (work: () => Promise<void>) => () => {
      work().catch((error: unknown) => this.hooks.notice(`Held mail: ${String(error)}`, 'error'));
    };
    return h(
      'article',
      { class: 'held-mail', 'data-testid': 'held-mail', 'data-id': mail.id, 'data-from': mail.from },
      h('header', {}, h('strong', {}, mail.subject || '(no subject)'), ` from ${mail.from} · ${formatInstant(mail.receivedAt)}`),
      h('p', { class: 'muted' }, mail.reason ?? ''),
      h('pre', { class: 'held-body' }, mail.textBody.slice(0, 600)),
      h('div', { class: 'form-buttons' },
        customer,
        h('label', {}, createContact, ' make the sender a contact'),
        h('button', { type: 'button', class: 'primary', 'data-testid': 'held-link', onclick: guarded(link) }, 'Create request'),
        reason,
        h('button', { type: 'button', class: 'danger', 'data-testid': 'held-discard', onclick: guarded(discard) }, 'Discard')),
      errors,
    );
  }
}
