// One request: its facts, its SLA clock, and a button per available transition.
import type { ConsoleRequestDetailQuery, TransitionAction } from '../src/index.js';
import { ACTIONS, type ActionTarget, type FieldSpec } from './actions.js';
import { formatInstant, formatMoney, h, humanize } from './dom.js';
import { countdown } from './sla.js';

export type RequestDetail = Extract<NonNullable<ConsoleRequestDetailQuery['node']>, { __typename: 'ServiceRequest' }>;
export type OutboundMailItem = ConsoleRequestDetailQuery['outboundMails']['nodes'][number];

export interface DetailHooks {
  /** The request as the form will send it: the version shown now becomes `expectedVersion`. */
  target(detail: RequestDetail): ActionTarget;
  /** Perform the action; resolves to messages to show in the form, or null when it went through. */
  perform(action: TransitionAction, target: ActionTarget, values: Record<string, string>): Promise<string[] | null>;
  /** A form was opened or closed (live reloads wait while one is open). */
  formOpen(open: boolean): void;
  /** Download an attachment (an authenticated GET of its `url`). */
  download(url: string, filename: string): void;
}

/** The email channel: who asked by mail, the files received, the mails sent (EMAIL.md). */
function mailSection(detail: RequestDetail, mails: readonly OutboundMailItem[], hooks: DetailHooks): HTMLElement | null {
  const requester = detail.requester;
  if (!requester && detail.attachments.length === 0 && mails.length === 0) return null;
  const flags = requester ? [requester.active ? '' : 'inactive', requester.bouncing ? 'bouncing' : ''].filter(Boolean) : [];
  return h(
    'section',
    { class: 'mail', 'data-testid': 'mail-thread' },
    h('h3', {}, 'Mail'),
    requester
      ? h('p', { 'data-testid': 'requester', 'data-email': requester.email },
          `Requester: ${requester.name ?? requester.email} <${requester.email}>`, flags.length ? ` (${flags.join(', ')})` : '')
      : null,
    detail.attachments.length
      ? h('ul', { class: 'attachments' }, ...detail.attachments.map((a) =>
          h('li', { 'data-testid': 'attachment' },
            h('button', { type: 'button', class: 'link', onclick: () => hooks.download(a.url, a.filename) }, a.filename),
            ` · ${a.contentType} · ${a.size} bytes`)))
      : null,
    h('ol', { class: 'outbound' }, ...mails.map((m) =>
      h('li', { 'data-testid': 'outbound-mail', 'data-status': m.status },
        h('time', {}, formatInstant(m.createdAt)), ` ${m.subject} → ${m.to.join(', ')} · ${humanize(m.status)}`,
        m.attempts > 1 ? ` · ${m.attempts} attempts` : '', m.lastError ? ` · ${m.lastError}` : ''))),
  );
}

function fact(label: string, value: Node | string): HTMLElement {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

function field(spec: FieldSpec): HTMLElement {
  const id = `field-${spec.name}`;
  let input: HTMLElement;
  if (spec.kind === 'select') {
    input = h(
      'select',
      { id, name: spec.name, required: spec.required },
      ...(spec.options ?? []).map(([value, label]) => h('option', { value, selected: value === spec.initial }, label)),
    );
  } else if (spec.kind === 'textarea') {
    input = h('textarea', { id, name: spec.name, rows: 3, required: spec.required, placeholder: spec.placeholder });
    if (spec.initial) (input as HTMLTextAreaElement).value = spec.initial;
  } else {
    input = h('input', { id, name: spec.name, type: 'text', required: spec.required, placeholder: spec.placeholder, value: spec.initial });
  }
  return h('label', { class: 'field', for: id }, h('span', {}, spec.label), input);
}

function actionForm(action: TransitionAction, target: ActionTarget, hooks: DetailHooks, close: () => void): HTMLElement {
  const spec = ACTIONS[action];
  const errors = h('ul', { class: 'form-errors', 'data-testid': 'form-errors', role: 'alert' });
  const submit = h('button', { type: 'submit', class: spec.danger ? 'danger' : 'primary', 'data-testid': 'confirm-action' }, `${spec.label} ${target.number}`);
  const form = h(
    'form',
    { class: 'action-form', 'data-action': action, 'data-expected-version': target.version },
    h('h3', {}, `${spec.label} · expected version ${target.version}`),
    ...spec.fields(target).map(field),
    errors,
    h('div', { class: 'form-buttons' }, submit, h('button', { type: 'button', onclick: close }, 'Back')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values: Record<string, string> = {};
    new FormData(form).forEach((value, key) => {
      values[key] = String(value);
    });
    submit.disabled = true;
    void hooks.perform(action, target, values).then((messages) => {
      submit.disabled = false;
      if (messages) errors.replaceChildren(...messages.map((m) => h('li', {}, m)));
    });
  });
  return form;
}

/** Render `detail` into `pane`; `receivedAt` anchors the SLA countdown. */
export function renderDetail(
  pane: HTMLElement,
  detail: RequestDetail,
  mails: readonly OutboundMailItem[],
  receivedAt: number,
  hooks: DetailHooks,
): void {
  const target = hooks.target(detail);
  const formSlot = h('div', { class: 'form-slot' });
  const closeForm = (): void => {
    formSlot.replaceChildren();
    hooks.formOpen(false);
  };
  const buttons = detail.availableTransitions.map((t) => {
    const spec = ACTIONS[t.action];
    return h(
      'button',
      {
        type: 'button',
        class: spec.danger ? 'action danger' : 'action',
        'data-testid': 'transition',
        'data-action': t.action,
        title: `→ ${humanize(t.toStatus)}`,
        onclick: () => {
          formSlot.replaceChildren(actionForm(t.action, target, hooks, closeForm));
          hooks.formOpen(true);
          formSlot.querySelector<HTMLElement>('textarea, select, input')?.focus();
        },
      },
      spec.label,
    );
  });

  const sla = detail.sla;
  pane.replaceChildren(
    h(
      'article',
      { class: 'detail', 'data-testid': 'request-detail', 'data-id': detail.id, 'data-number': detail.number, 'data-version': detail.version, 'data-status': detail.status },
      h('header', {}, h('h2', {}, `${detail.number} · ${detail.subject}`), h('span', { class: `status status-${detail.status.toLowerCase()}` }, humanize(detail.status))),
      h(
        'dl',
        { class: 'facts' },
        fact('Customer', `${detail.customer.name} (${detail.customer.externalRef})`),
        fact('Type', humanize(detail.type)),
        fact('Priority', humanize(detail.priority) + (detail.escalated ? ' · escalated' : '')),
        fact('Team', detail.team?.name ?? '–'),
        fact('Assignee', detail.assignee?.name ?? 'unassigned'),
        fact('Financial impact', formatMoney(detail.financialImpact)),
        fact('Invoice', detail.invoice ? `${detail.invoice.number} · outstanding ${formatMoney(detail.invoice.outstanding)}` : '–'),
        fact('Version', String(detail.version)),
      ),
      h(
        'section',
        { class: `sla-box sla-${sla.state.toLowerCase()}` },
        h('h3', {}, 'SLA ', h('span', { class: 'sla-state', 'data-testid': 'sla-state' }, humanize(sla.state))),
        h('p', { class: 'sla-clock' }, countdown(sla, receivedAt)),
        h('p', { class: 'muted' }, `${sla.policy.name}: first response due ${formatInstant(sla.firstResponseDueAt)}`,
          sla.firstRespondedAt ? ` (answered ${formatInstant(sla.firstRespondedAt)})` : '',
          ` · resolution due ${formatInstant(sla.resolutionDueAt)}`),
      ),
      h('section', { class: 'actions' }, h('h3', {}, 'Actions'),
        buttons.length ? h('div', { class: 'buttons' }, ...buttons) : h('p', { class: 'muted' }, 'Nothing you can do to this request now.'),
        formSlot),
      h('section', { class: 'description' }, h('h3', {}, 'Description'), h('p', {}, detail.description)),
      mailSection(detail, mails, hooks),
      h(
        'section',
        { class: 'timeline' },
        h('h3', {}, 'Timeline'),
        h(
          'ol',
          {},
          ...[...detail.events.nodes].reverse().map((e) =>
            h('li', {}, h('time', {}, formatInstant(e.occurredAt)), ` ${humanize(e.kind)}`,
              e.toStatus ? ` → ${humanize(e.toStatus)}` : '', e.actorName ? ` · ${e.actorName}` : '',
              e.comment ? h('blockquote', { class: `comment-${e.comment.visibility.toLowerCase()}` }, e.comment.body) : null),
          ),
        ),
      ),
    ),
  );
}
