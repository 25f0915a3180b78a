// The supervisor dashboard: the backlog now (by status, team and age), the SLA counters live,
// and the last 30 days of service figures, for every team or one.
//
// Sources, all through the SDK: one ConsoleDashboard read (two `metrics` windows, `teams`, the
// open requests at risk and breached), re-read when ConsoleDashboardEvents or slaAlerts report
// a change, once the burst settles and never sooner than 10 s after the previous read (see
// refresh.ts); between reads the at-risk and breached counters follow slaAlerts directly (see
// sla-counters.ts), so a breach shows the moment the SLA engine reports it.
import {
  CasegraphError,
  ConsoleDashboardDocument,
  ConsoleDashboardEventsDocument,
  ConsoleSlaAlertsDocument,
  type CasegraphClient,
  type CasegraphSubscription,
} from '../src/index.js';
import { figuresOf } from './dashboard-figures.js';
import { DashboardView } from './dashboard-view.js';
import { RefreshScheduler } from './refresh.js';
import { SlaCounters } from './sla-counters.js';

export interface DashboardHandlers {
  /** Open a request (from the alert feed) in the console. */
  open(requestId: string): void;
}

function describe(error: unknown): string {
  if (error instanceof CasegraphError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** One scope being followed: its counters, its schedule, its subscriptions. */
interface Following {
  client: CasegraphClient;
  teamId: string | null;
  counters: SlaCounters;
  scheduler: RefreshScheduler;
  subscriptions: CasegraphSubscription[];
}

export class Dashboard {
  private view: DashboardView | undefined;
  private client: CasegraphClient | undefined;
  private teamId: string | null = null;
  private following: Following | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly handlers: DashboardHandlers,
  ) {}

  /** Show the dashboard for this client and keep it live until `hide`. */
  show(client: CasegraphClient): void {
    if (!this.root.hidden && client === this.client && this.following) return; // live already
    this.view ??= new DashboardView(this.root, {
      scope: (teamId) => {
        // Widening to every team keeps the alerts on screen (they are in scope still).
        const keepFeed = teamId === null;
        this.teamId = teamId;
        this.follow(keepFeed);
      },
      open: (id) => this.handlers.open(id),
    });
    if (client !== this.client) this.teamId = null;
    this.client = client;
    this.root.hidden = false;
    this.follow(false);
  }

  /** Stop every subscription and timer (the page switched away or signed out). */
  hide(): void {
    this.root.hidden = true;
    this.unfollow();
  }

  private follow(keepFeed: boolean): void {
    this.unfollow();
    const client = this.client;
    const view = this.view;
    if (!client || !view) return;
    const teamId = this.teamId;
    const counters = new SlaCounters();
    const scheduler = new RefreshScheduler(() => this.load(following));
    const following: Following = { client, teamId, counters, scheduler, subscriptions: [] };
    this.following = following;
    if (!keepFeed) view.clearFeed();
    view.liveStatus('live', true);
    const lost = (error: CasegraphError): void => view.liveStatus(`live updates stopped: ${describe(error)}`, false);
    // Subscribe before the first read: a change after the subscriptions start is then either in
    // that read's answer or re-applied on top of it.
    following.subscriptions.push(
      client.subscribe(ConsoleSlaAlertsDocument, { teamId }, {
        onEvent: ({ slaAlerts }) => {
          view.alert(slaAlerts);
          if (counters.apply(slaAlerts)) view.counters(counters.atRiskCount, counters.breachedCount);
          scheduler.changed();
        },
        onError: lost,
      }),
      client.subscribe(ConsoleDashboardEventsDocument, { teamId }, {
        onEvent: () => scheduler.changed(),
        onError: lost,
      }),
    );
    scheduler.start();
  }

  private unfollow(): void {
    const following = this.following;
    this.following = undefined;
    if (!following) return;
    following.scheduler.stop();
    for (const subscription of following.subscriptions) subscription.unsubscribe();
  }

  private async load(following: Following): Promise<void> {
    const view = this.view;
    if (!view) return;
    const { client, teamId, counters } = following;
    const mark = counters.mark();
    try {
      const answer = await client.request(ConsoleDashboardDocument, { teamId });
      if (following !== this.following) return; // scope changed or hidden meanwhile
      counters.reset(answer, mark);
      view.setTeams(answer.teams, teamId);
      view.figures(figuresOf(answer, teamId), teamId);
      view.counters(counters.atRiskCount, counters.breachedCount);
      // When the last read landed: the tests wait for it.
      this.root.dataset['loadedAt'] = String(Date.now());
    } catch (error) {
      if (following === this.following) view.failed(`Update failed: ${describe(error)}`);
    }
  }
}
