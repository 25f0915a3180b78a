// vitest globalSetup: one live casegraph server for the whole run.
//
// `casegraph serve --seed-demo` on a free port with a fresh CASEGRAPH_DATA_DIR (so it starts
// its own private PostgreSQL; DATABASE_URL is removed from its environment), waits for
// /readyz, mints tokens with `casegraph token` against the same data dir (the CLI shares the
// running PostgreSQL), and stops everything at teardown. A second server on the same database
// runs in TRUSTED_DOCUMENTS=public mode with the SDK's manifest registered (`casegraph documents
// register`), as a portal deployment would (tests/live.trusted.test.ts).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { casegraphEnv } from './support/cli.js';
import type { LiveServer } from './support/live.js';

const run = promisify(execFile);

const REPO = resolve(import.meta.dirname, '..', '..');
const MANIFEST = resolve(import.meta.dirname, '..', 'src', 'generated', 'persisted-documents.json');
const CASEGRAPH = process.env.CASEGRAPH_BIN ?? join(REPO, '.venv', 'bin', 'casegraph');
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const ADMIN = 'admin@example.com';
const PARTNER_CLIENT_ID = 'erp-connector';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** A KYC-verified customer of the demo organisation, read from demo/data.py. */
function demoCustomerRef(): string {
  const file = join(REPO, 'demo', 'data.py');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    // Customer tuples: ("C-1001", "Acme Retail GmbH", "ENTERPRISE", "DE", "EUR", "VERIFIED", ...
    const tuple = /\(\s*"([^"]+)",\s*"[^"]*",\s*"[A-Z_]+",\s*"[A-Z]{2}",\s*"[A-Z]{3}",\s*"VERIFIED"/.exec(text);
    if (tuple?.[1]) return tuple[1];
  }
  return 'C-1001';
}

async function cli(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  const { stdout } = await run(CASEGRAPH, args, { env, timeout: 60_000 });
  return stdout.trim();
}

async function waitReady(base: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`casegraph serve exited with ${child.exitCode} before it was ready:\n${log()}`);
    }
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`casegraph serve not ready within ${READY_TIMEOUT_MS / 1000} s:\n${log()}`);
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => ok(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      ok(true);
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stop the server's private PostgreSQL if it is still running: `casegraph serve` leaves it
 * behind when uvicorn re-raises SIGTERM after its graceful shutdown. Fast shutdown (SIGINT) by
 * the postmaster's pid, then immediate (SIGQUIT) if it lingers.
 */
async function stopOrphanPostgres(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'pgdata', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; alive(pid) && waited < 15_000; waited += 100) {
    if (waited === 10_000) process.kill(pid, 'SIGQUIT');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The servers' clock (CASEGRAPH_CLOCK): CI's hostile instant when CASEGRAPH_TEST_CLOCK is set, else
 * the last Tuesday, 14:00 UTC, at least a day ago. That is business hours in both demo calendars
 * (Berlin 08-18, New York 09-17), never a DST change (those are Sunday nights) nor a demo holiday,
 * so the demo data and the tests' requests have SLAs hours away whatever day the suite runs on.
 */
export function serverClock(today: Date): string {
  const hostile = process.env.CASEGRAPH_TEST_CLOCK;
  if (hostile) return hostile;
  const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 1, 14));
  const holiday = (d: Date): boolean =>
    (d.getUTCMonth() === 11 && d.getUTCDate() >= 24) || (d.getUTCMonth() === 0 && d.getUTCDate() <= 1);
  while (day.getUTCDay() !== 2 || holiday(day)) day.setUTCDate(day.getUTCDate() - 1);
  return day.toISOString();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'casegraph-sdk-'));
  const port = await freePort();
  const portalPort = await freePort();
  // The portal page of tests/portal is served from this origin.
  const env = {
    ...casegraphEnv(dataDir),
    CORS_ALLOWED_ORIGINS: `http://localhost:${portalPort}`,
    CASEGRAPH_CLOCK: serverClock(new Date()),
  };
  const base = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(
    CASEGRAPH,
    ['serve', '--host', '127.0.0.1', '--port', String(port), '--seed-demo', '--requests', '50'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const log = (): string => output.slice(-4000);

  let trusted: ChildProcess | undefined;
  const teardown = async (): Promise<void> => {
    if (trusted && trusted.exitCode === null && trusted.signalCode === null) {
      trusted.kill('SIGTERM');
      if (!(await exited(trusted, STOP_TIMEOUT_MS))) trusted.kill('SIGKILL');
    }
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await exited(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await exited(child, 5_000);
      }
    }
    await stopOrphanPostgres(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    if (process.env.CASEGRAPH_SDK_SERVER_LOG) console.log(output);
  };

  try {
    await waitReady(base, child, log);
    // The portal deployment: same database (the running private PostgreSQL), trusted documents only.
    const trustedPort = await freePort();
    trusted = spawn(
      CASEGRAPH,
      ['serve', '--host', '127.0.0.1', '--port', String(trustedPort), '--no-migrate'],
      { env: { ...env, TRUSTED_DOCUMENTS: 'public', CASEGRAPH_WORKERS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trusted.stdout?.on('data', collect);
    trusted.stderr?.on('data', collect);
    await cli(env, ['documents', 'register', MANIFEST]);
    await waitReady(`http://127.0.0.1:${trustedPort}`, trusted, log);
    const customerRef = demoCustomerRef();
    const [adminToken, customerToken, partnerSecret] = await Promise.all([
      cli(env, ['token', '--subject', ADMIN]),
      cli(env, ['token', '--subject', `portal-user@${customerRef.toLowerCase()}.example.com`, '--role', 'CUSTOMER',
        '--customer-id', customerRef]),
      cli(env, ['partner-secret', PARTNER_CLIENT_ID]).catch(() => null),
    ]);
    const live: LiveServer = {
      url: `${base}/graphql`,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
      trustedUrl: `http://127.0.0.1:${trustedPort}/graphql`,
      tokenUrl: `${base}/oauth/token`,
      adminToken,
      customerToken,
      customerRef,
      portalPort,
      partner: partnerSecret ? { clientId: PARTNER_CLIENT_ID, clientSecret: partnerSecret } : null,
      dataDir,
      casegraphBin: CASEGRAPH,
    };
    project.provide('casegraph', live);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
