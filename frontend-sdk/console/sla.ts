// SLA countdowns that tick locally between server updates.
//
// The server's `remainingSeconds` is exact when it answers; the page turns it into a local
// deadline (`now + remaining`), so the countdown does not depend on the browser's clock
// agreeing with the server's. A null `remainingSeconds` (PAUSED, MET) shows the state instead.
import { h, humanize } from './dom.js';

/** `3h 05m 09s`, `2d 04h`, or `overdue 12m 30s` once negative. */
export function formatRemaining(seconds: number): string {
  const overdue = seconds < 0;
  let rest = Math.abs(seconds);
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  const text = days > 0 ? `${days}d ${pad(hours)}h` : hours > 0 ? `${hours}h ${pad(minutes)}m ${pad(secs)}s` : `${minutes}m ${pad(secs)}s`;
  return overdue ? `overdue ${text}` : text;
}

/** A countdown element: `data-deadline` (epoch ms) drives the ticker; classes follow the state. */
export function countdown(sla: { state: string; remainingSeconds: number | null }, receivedAt: number): HTMLElement {
  const element = h('span', { class: `countdown sla-${sla.state.toLowerCase()}`, 'data-testid': 'sla-countdown' });
  if (sla.remainingSeconds === null || sla.remainingSeconds === undefined) {
    element.textContent = humanize(sla.state);
    return element;
  }
  element.dataset['deadline'] = String(receivedAt + sla.remainingSeconds * 1000);
  tickOne(element, Date.now());
  return element;
}

function tickOne(element: HTMLElement, now: number): void {
  const deadline = Number(element.dataset['deadline']);
  const seconds = Math.round((deadline - now) / 1000);
  element.textContent = formatRemaining(seconds);
  element.dataset['remaining'] = String(seconds);
  // Crossing zero locally shows the breach at once; the server's alert follows from the SLA engine.
  element.classList.toggle('overdue', seconds < 0);
}

/** Update every countdown on the page once a second; returns a stop function. */
export function startTicker(root: ParentNode = document): () => void {
  const tick = (): void => {
    const now = Date.now();
    root.querySelectorAll<HTMLElement>('.countdown[data-deadline]').forEach((el) => tickOne(el, now));
  };
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}
