// The team queue table: open requests of one team, most urgent SLA first (the query's order).
import type { ConsoleTeamQueueQuery } from '../src/index.js';
import { formatMoney, h, humanize } from './dom.js';
import { countdown } from './sla.js';

export type QueueRow = ConsoleTeamQueueQuery['serviceRequests']['nodes'][number];

export interface QueueView {
  openId: string | null;
  onOpen(id: string): void;
}

/**
 * Replace the rows; rows that are new or whose version moved since the last render flash
 * briefly, so an agent sees what the live update changed. Returns the versions now shown.
 */
export function renderQueue(
  body: HTMLElement,
  rows: readonly QueueRow[],
  view: QueueView,
  previous: ReadonlyMap<string, number> | null,
  receivedAt: number,
): Map<string, number> {
  const versions = new Map<string, number>();
  const elements = rows.map((row) => {
    versions.set(row.id, row.version);
    const changed = previous !== null && previous.get(row.id) !== row.version;
    const open = (): void => view.onOpen(row.id);
    return h(
      'tr',
      {
        class: ['queue-row', changed ? 'flash' : '', row.id === view.openId ? 'selected' : '', row.escalated ? 'escalated' : '']
          .filter(Boolean)
          .join(' '),
        'data-testid': 'queue-row',
        'data-id': row.id,
        'data-number': row.number,
        'data-status': row.status,
        'data-version': row.version,
        tabindex: 0,
        onclick: open,
        onkeydown: (event: Event) => {
          if ((event as KeyboardEvent).key === 'Enter') open();
        },
      },
      h('td', { class: 'number' }, row.number),
      h('td', { class: 'subject' }, row.subject, row.escalated ? h('span', { class: 'tag tag-escalated' }, 'escalated') : null),
      h('td', {}, row.customer.name),
      h('td', {}, h('span', { class: `tag priority-${row.priority.toLowerCase()}` }, humanize(row.priority))),
      h('td', { 'data-testid': 'queue-status' }, h('span', { class: `status status-${row.status.toLowerCase()}` }, humanize(row.status))),
      h('td', {}, row.assignee?.name ?? h('em', {}, 'unassigned')),
      h('td', { class: 'money' }, formatMoney(row.financialImpact)),
      h('td', {}, countdown(row.sla, receivedAt)),
    );
  });
  if (elements.length === 0) {
    elements.push(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No open requests in this team.')));
  }
  body.replaceChildren(...elements);
  return versions;
}
