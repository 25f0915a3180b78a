// The dashboard's "at risk" and "breached" counters, moved live by slaAlerts between reads.
//
// A read gives the open requests at risk and breached (their ids, up to a page, and the totals);
// each alert then moves one request: SLA_AT_RISK into the at-risk set unless it is already
// breached, SLA_BREACHED from the at-risk set into the breached set. Sets make an alert count
// once however often it arrives (a second target's alert, a replay after a reconnect). Alerts
// that arrive while a read is in flight are applied again on top of its answer: the read may
// or may not have seen them, and applying one twice changes nothing. What alerts do not say
// (a request resolved, cancelled or moved to another team) waits for the next read, and so
// does an exact count when more requests are at risk than one page of ids holds (an alert for
// one the page left out counts it twice until then).
import { RequestEventKind } from '../src/index.js';

export interface SlaSnapshot {
  atRisk: { totalCount: number; nodes: ReadonlyArray<{ id: string }> };
  breached: { totalCount: number; nodes: ReadonlyArray<{ id: string }> };
}

export interface SlaAlertLike {
  kind: RequestEventKind;
  serviceRequest: { id: string };
}

// Alerts kept for re-application; a read takes far less time than this many alerts need to arrive.
const MAX_LOG = 5_000;

export class SlaCounters {
  private readonly atRisk = new Set<string>();
  private readonly breached = new Set<string>();
  // Counted by the server beyond the page of ids the read returned.
  private unlistedAtRisk = 0;
  private unlistedBreached = 0;
  private sequence = 0;
  private log: Array<{ seq: number; alert: SlaAlertLike }> = [];

  get atRiskCount(): number {
    return this.atRisk.size + this.unlistedAtRisk;
  }

  get breachedCount(): number {
    return this.breached.size + this.unlistedBreached;
  }

  /** Call before a read starts; pass the mark to `reset` with its answer. */
  mark(): number {
    return this.sequence;
  }

  /** Take the server's sets from a read that started at `mark`, then re-apply the alerts since. */
  reset(snapshot: SlaSnapshot, mark: number): void {
    this.atRisk.clear();
    this.breached.clear();
    for (const { id } of snapshot.atRisk.nodes) this.atRisk.add(id);
    for (const { id } of snapshot.breached.nodes) this.breached.add(id);
    this.unlistedAtRisk = Math.max(0, snapshot.atRisk.totalCount - this.atRisk.size);
    this.unlistedBreached = Math.max(0, snapshot.breached.totalCount - this.breached.size);
    this.log = this.log.filter((entry) => entry.seq > mark);
    for (const { alert } of this.log) this.move(alert);
  }

  /** A live alert; returns true when a counter changed. */
  apply(alert: SlaAlertLike): boolean {
    this.sequence += 1;
    this.log.push({ seq: this.sequence, alert });
    if (this.log.length > MAX_LOG) this.log.shift();
    return this.move(alert);
  }

  private move(alert: SlaAlertLike): boolean {
    const id = alert.serviceRequest.id;
    if (alert.kind === RequestEventKind.SLA_AT_RISK) {
      if (this.breached.has(id) || this.atRisk.has(id)) return false;
      this.atRisk.add(id);
      return true;
    }
    if (alert.kind === RequestEventKind.SLA_BREACHED) {
      if (this.breached.has(id)) return false;
      this.atRisk.delete(id);
      this.breached.add(id);
      return true;
    }
    return false;
  }
}
