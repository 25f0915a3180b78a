// SLA alerts of the selected team as banners, resumable across page loads.
//
// The last alert cursor is kept in localStorage per team: on the next visit the subscription
// starts `after` it, so breaches that happened while the console was closed are shown too
// (the server replays them first). On a first visit there is no cursor and alerts are live only.
import {
  ConsoleSlaAlertsDocument,
  RequestEventKind,
  type CasegraphClient,
  type CasegraphError,
  type CasegraphSubscription,
  type ConsoleSlaAlertsSubscription,
} from '../src/index.js';
import { formatInstant, h, humanize } from './dom.js';

type SlaAlert = ConsoleSlaAlertsSubscription['slaAlerts'];

const MAX_BANNERS = 5;

export const alertCursorKey = (teamId: string): string => `casegraph.console.slaAlerts.after.${teamId}`;

export interface AlertHandlers {
  open(requestId: string): void;
  /** Every alert also changes the request (version, SLA state): the queue reloads. */
  changed(alert: SlaAlert): void;
  failed(error: CasegraphError): void;
}

export class AlertBanners {
  private subscription: CasegraphSubscription | undefined;
  private shown = new Map<string, HTMLElement>();
  private hidden = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly handlers: AlertHandlers,
  ) {}

  /** Follow `teamId`'s alerts (after the stored cursor); stops following the previous team. */
  follow(client: CasegraphClient, teamId: string): void {
    this.stop();
    const after = safeStorage()?.getItem(alertCursorKey(teamId)) ?? undefined;
    this.subscription = client.subscribe(
      ConsoleSlaAlertsDocument,
      { teamId, ...(after ? { after } : {}) },
      {
        onEvent: ({ slaAlerts }) => {
          safeStorage()?.setItem(alertCursorKey(teamId), slaAlerts.cursor);
          this.show(slaAlerts);
          this.handlers.changed(slaAlerts);
        },
        onError: (error) => this.handlers.failed(error),
      },
    );
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  clear(): void {
    this.stop();
    this.root.replaceChildren();
    this.shown.clear();
    this.hidden = 0;
  }

  private show(alert: SlaAlert): void {
    const request = alert.serviceRequest;
    // One banner per request and target: a breach replaces its at-risk warning, a replay refreshes it.
    const key = `${request.id}:${alert.target}`;
    this.shown.get(key)?.remove();
    const breached = alert.kind === RequestEventKind.SLA_BREACHED;
    const banner = h(
      'div',
      {
        class: `alert ${breached ? 'alert-breached' : 'alert-at-risk'}`,
        role: 'alert',
        'data-testid': 'sla-alert',
        'data-kind': alert.kind,
        'data-number': request.number,
      },
      h('strong', {}, breached ? 'SLA breached' : 'SLA at risk'),
      ` ${request.number} · ${humanize(alert.target)} due ${formatInstant(alert.dueAt)} · `,
      h('span', { class: 'alert-subject' }, request.subject),
      h('button', { type: 'button', class: 'link', onclick: () => this.handlers.open(request.id) }, 'Open'),
      h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', onclick: () => this.dismiss(key) }, '×'),
    );
    this.shown.set(key, banner);
    this.root.prepend(banner);
    // Keep the newest few; a long absence could replay many.
    while (this.shown.size > MAX_BANNERS) {
      const [oldest] = this.shown.keys();
      if (oldest === undefined) break;
      this.dismiss(oldest);
      this.hidden += 1;
    }
    this.root.dataset['hidden'] = String(this.hidden);
  }

  private dismiss(key: string): void {
    this.shown.get(key)?.remove();
    this.shown.delete(key);
  }
}

/** localStorage, or undefined where it is disabled (private modes, sandboxed frames). */
function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
