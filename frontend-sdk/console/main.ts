// The reference agent console: pick an identity, watch a team queue live, act on one request.
//
// Everything goes through the SDK: queries and mutations over HTTP, requestEvents and slaAlerts
// over graphql-transport-ws (resumed by the SDK after reconnects). The queue is re-read after
// each event rather than patched, so its order (most urgent SLA first) and its membership stay
// the server's. A second view, the supervisor dashboard (dashboard.ts), is live only while shown.
import {
  CasegraphError,
  ConsoleRequestDetailDocument,
  ConsoleRequestEventsDocument,
  ConsoleTeamQueueDocument,
  ConsoleTeamsDocument,
  ConsoleViewerDocument,
  UserErrorCode,
  createCasegraphClient,
  type CasegraphClient,
  type CasegraphSubscription,
  type ConsoleViewerQuery,
  type TransitionAction,
} from '../src/index.js';
import { ACTIONS, type ActionTarget } from './actions.js';
import { AlertBanners } from './alerts.js';
import { HeldMails } from './held.js';
import { Dashboard } from './dashboard.js';
import { renderDetail, type RequestDetail } from './detail.js';
import { byId, h } from './dom.js';
import { renderQueue } from './queue.js';
import { Session, loadIdentities, type DevIdentity } from './session.js';
import { startTicker } from './sla.js';

type Viewer = ConsoleViewerQuery['viewer'];
type View = 'queue' | 'dashboard';

const LAST_IDENTITY = 'casegraph.console.identity';
// Several events often arrive together (CREATED then ASSIGNED): one reload for the burst.
const RELOAD_DEBOUNCE_MS = 150;

function debounce(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function describe(error: unknown): string {
  if (error instanceof CasegraphError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

class ConsoleApp {
  private client: CasegraphClient | undefined;
  private viewer: Viewer | undefined;
  private teamId: string | undefined;
  private teamEvents: CasegraphSubscription | undefined;
  private requestEvents: CasegraphSubscription | undefined;
  private openId: string | null = null;
  private formIsOpen = false;
  /** Version of the open request on screen, and the newest one a live event announced. */
  private shownVersion = 0;
  private announcedVersion = 0;
  private session: Session | null = null;
  private versions: Map<string, number> | null = null;
  private readonly alerts = new AlertBanners(byId('alerts'), {
    open: (id) => void this.open(id),
    changed: () => this.reloadQueue(),
    failed: (error) => this.notice(`SLA alerts: ${describe(error)}`, 'error'),
  });
  private readonly dashboard = new Dashboard(byId('dashboard'), {
    open: (id) => {
      this.showView('queue');
      void this.open(id);
    },
  });
  private readonly held = new HeldMails(byId('held-mail'), {
    opened: (id) => void this.open(id),
    notice: (text, kind) => this.notice(text, kind),
  });
  private readonly reloadQueue = debounce(() => void this.loadQueue(), RELOAD_DEBOUNCE_MS);
  // Debounced: by the time it runs the agent may have opened a form, which a reload would wipe.
  private readonly reloadDetail = debounce(() => {
    if (this.formIsOpen) this.markStale();
    else void this.loadDetail();
  }, RELOAD_DEBOUNCE_MS);

  async start(): Promise<void> {
    startTicker();
    byId<HTMLFormElement>('identity-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const subject = byId<HTMLSelectElement>('identity').value;
      if (subject) void this.signIn(() => Session.forIdentity(subject), subject);
    });
    byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = byId<HTMLInputElement>('token-input').value;
      if (token.trim()) void this.signIn(async () => Session.withToken(token), null);
    });
    byId<HTMLSelectElement>('team').addEventListener('change', (event) => {
      this.selectTeam((event.target as HTMLSelectElement).value);
    });
    for (const button of byId('views').querySelectorAll<HTMLButtonElement>('button[data-view]')) {
      button.addEventListener('click', () => this.showView(button.dataset['view'] === 'dashboard' ? 'dashboard' : 'queue'));
    }
    await this.fillIdentities();
  }

  private async fillIdentities(): Promise<void> {
    const select = byId<HTMLSelectElement>('identity');
    const { identities, refused } = await loadIdentities().catch((e: unknown) => ({ identities: [] as DevIdentity[], refused: describe(e) }));
    if (refused) {
      byId('identity-form').hidden = true;
      byId<HTMLDetailsElement>('paste').open = true;
      this.notice(`Development identities unavailable (${refused}). Paste a token from \`casegraph token\`.`, 'info');
      return;
    }
    const byRole = new Map<string, DevIdentity[]>();
    for (const identity of identities) byRole.set(identity.role, [...(byRole.get(identity.role) ?? []), identity]);
    const last = localStorage.getItem(LAST_IDENTITY);
    select.replaceChildren(
      h('option', { value: '' }, 'Choose a staff member…'),
      ...[...byRole].map(([role, members]) =>
        h('optgroup', { label: role },
          ...members.map((m) => h('option', { value: m.subject, selected: m.subject === last },
            `${m.name} · ${m.teams.length ? m.teams.join(', ') : 'no team'}`))),
      ),
    );
  }

  private async signIn(makeSession: () => Promise<Session>, subject: string | null): Promise<void> {
    this.notice('Signing in…', 'info');
    try {
      const session = await makeSession();
      this.dashboard.hide();
      await this.client?.dispose();
      this.alerts.clear();
      this.teamEvents = undefined;
      this.requestEvents = undefined;
      this.openId = null;
      this.formIsOpen = false;
      const client = createCasegraphClient({ url: `${location.origin}/graphql`, getToken: session.getToken });
      this.client = client;
      this.session = session;
      const [{ viewer }, { teams }] = await Promise.all([client.request(ConsoleViewerDocument), client.request(ConsoleTeamsDocument)]);
      this.viewer = viewer;
      if (subject) localStorage.setItem(LAST_IDENTITY, subject);
      byId('whoami').textContent = `${viewer.name ?? viewer.subject} · ${viewer.roles.join(', ')}`;
      byId('whoami').dataset['subject'] = viewer.subject;
      const mine = new Set(viewer.agent?.teams.map((t) => t.id) ?? []);
      const select = byId<HTMLSelectElement>('team');
      select.replaceChildren(...teams.map((t) => h('option', { value: t.id }, `${t.name}${mine.has(t.id) ? ' ★' : ''}`)));
      const initial = teams.find((t) => mine.has(t.id)) ?? teams[0];
      byId('views').hidden = false;
      this.showView(location.hash === '#dashboard' ? 'dashboard' : 'queue');
      byId('detail-pane').replaceChildren(h('p', { class: 'empty' }, 'Open a request from the queue.'));
      this.notice('', 'info');
      if (initial) {
        select.value = initial.id;
        this.selectTeam(initial.id);
      }
    } catch (error) {
      this.notice(`Sign-in failed: ${describe(error)}`, 'error');
    }
  }

  /** The queue (with the open request) or the dashboard; the URL's #dashboard survives a reload. */
  private showView(view: View): void {
    byId('workspace').hidden = view !== 'queue';
    for (const button of byId('views').querySelectorAll<HTMLButtonElement>('button[data-view]')) {
      button.setAttribute('aria-pressed', String(button.dataset['view'] === view));
    }
    history.replaceState(null, '', view === 'dashboard' ? '#dashboard' : `${location.pathname}${location.search}`);
    if (view === 'dashboard' && this.client) this.dashboard.show(this.client);
    else this.dashboard.hide();
  }

  private selectTeam(teamId: string): void {
    const client = this.client;
    if (!client) return;
    this.teamId = teamId;
    this.versions = null;
    this.teamEvents?.unsubscribe();
    // Subscribe before reading the queue: a change that lands once the subscription is registered
    // reloads the queue even when the first read had already missed it.
    this.teamEvents = client.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { teamId } },
      {
        onEvent: ({ requestEvents }) => {
          this.reloadQueue();
          if (requestEvents.serviceRequest.id === this.openId) this.detailChanged(requestEvents.serviceRequest.version);
        },
        onError: (error) => this.live(`disconnected: ${describe(error)}`, false),
      },
    );
    this.alerts.follow(client, teamId);
    this.live('live', true);
    void this.loadQueue();
  }

  private async loadQueue(): Promise<void> {
    const client = this.client;
    const teamId = this.teamId;
    if (!client || !teamId) return;
    try {
      const { serviceRequests } = await client.request(ConsoleTeamQueueDocument, { teamId });
      if (teamId !== this.teamId) return; // the agent switched teams meanwhile
      // Held mail changes without request events: it is re-read with the queue.
      void this.held.load(client).catch(() => undefined);
      const body = byId('queue-body');
      this.versions = renderQueue(body, serviceRequests.nodes, { openId: this.openId, onOpen: (id) => void this.open(id) }, this.versions, Date.now());
      byId('queue-count').textContent = `${serviceRequests.totalCount} open`;
      byId('queue').dataset['loadedAt'] = String(Date.now());
    } catch (error) {
      this.notice(`Queue: ${describe(error)}`, 'error');
    }
  }

  private async open(id: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.openId = id;
    this.formIsOpen = false;
    this.shownVersion = 0;
    this.announcedVersion = 0;
    document.querySelectorAll('.queue-row').forEach((row) => row.classList.toggle('selected', (row as HTMLElement).dataset['id'] === id));
    this.requestEvents?.unsubscribe();
    // The team feed misses a request that leaves the team (escalation): follow the open one itself too.
    this.requestEvents = client.subscribe(
      ConsoleRequestEventsDocument,
      { filter: { serviceRequestId: id } },
      { onEvent: ({ requestEvents }) => this.detailChanged(requestEvents.serviceRequest.version), onError: () => undefined },
    );
    await this.loadDetail();
  }

  /** A live event changed the open request: reload it, unless the agent is filling in a form. */
  private detailChanged(version: number): void {
    this.announcedVersion = Math.max(this.announcedVersion, version);
    if (version <= this.shownVersion) return; // already on screen (e.g. the agent's own action)
    if (this.formIsOpen) this.markStale();
    else this.reloadDetail();
  }

  /** Their form still carries the version they saw; submitting it will meet VERSION_CONFLICT. */
  private markStale(): void {
    if (this.announcedVersion <= this.shownVersion) return;
    const pane = byId('detail-pane');
    pane.querySelector('.stale')?.remove();
    pane.querySelector('.detail')?.prepend(
      h('p', { class: 'stale', 'data-testid': 'stale-notice' }, `Changed meanwhile (now version ${this.announcedVersion}). `,
        h('button', { type: 'button', class: 'link', onclick: () => void this.loadDetail() }, 'Reload')),
    );
  }

  private async loadDetail(): Promise<void> {
    const client = this.client;
    const id = this.openId;
    if (!client || !id) return;
    try {
      const { node, outboundMails } = await client.request(ConsoleRequestDetailDocument, { id });
      if (id !== this.openId) return;
      if (node?.__typename !== 'ServiceRequest') {
        byId('detail-pane').replaceChildren(h('p', { class: 'empty' }, 'This request is not visible to you.'));
        return;
      }
      this.formIsOpen = false;
      this.shownVersion = node.version;
      renderDetail(byId('detail-pane'), node, outboundMails.nodes, Date.now(), {
        download: (url, filename) => void this.download(url, filename),
        target: (d) => this.target(d),
        perform: (action, target, values) => this.perform(action, target, values),
        formOpen: (open) => {
          this.formIsOpen = open;
        },
      });
    } catch (error) {
      this.notice(`Request: ${describe(error)}`, 'error');
    }
  }

  /** An attachment through an authenticated GET, handed to the browser as a file download. */
  private async download(url: string, filename: string): Promise<void> {
    const token = await this.session?.getToken();
    try {
      const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const link = h('a', { href: URL.createObjectURL(await response.blob()), download: filename });
      link.click();
      URL.revokeObjectURL(link.getAttribute('href') ?? '');
    } catch (error) {
      this.notice(`Attachment: ${describe(error)}`, 'error');
    }
  }

  private target(detail: RequestDetail): ActionTarget {
    return {
      id: detail.id,
      number: detail.number,
      version: detail.version,
      priority: detail.priority,
      currency: detail.financialImpact?.currency ?? detail.invoice?.amount.currency ?? null,
      agentId: this.viewer?.agent?.id ?? null,
      agentName: this.viewer?.agent?.name ?? null,
    };
  }

  private async perform(action: TransitionAction, target: ActionTarget, values: Record<string, string>): Promise<string[] | null> {
    const client = this.client;
    if (!client) return ['not signed in'];
    try {
      const userErrors = await ACTIONS[action].run(client, target, values);
      if (userErrors.some((e) => e.code === UserErrorCode.VERSION_CONFLICT)) {
        this.formIsOpen = false;
        await this.loadDetail();
        this.notice(`${target.number} was changed by someone else since you opened it (version ${target.version}); ` +
          'here is the current state: check it and try again.', 'warning');
        return null;
      }
      if (userErrors.length > 0) return userErrors.map((e) => `${e.code}: ${e.message}`);
      this.notice(`${target.number}: ${ACTIONS[action].label} done.`, 'success');
      this.formIsOpen = false;
      await Promise.all([this.loadDetail(), this.loadQueue()]);
      return null;
    } catch (error) {
      return [describe(error)];
    }
  }

  private live(text: string, ok: boolean): void {
    const element = byId('live');
    element.textContent = text;
    element.classList.toggle('down', !ok);
  }

  private notice(text: string, kind: 'info' | 'success' | 'warning' | 'error'): void {
    const element = byId('notice');
    element.textContent = text;
    element.className = `notice notice-${kind}`;
    element.hidden = !text;
  }
}

void new ConsoleApp().start();
