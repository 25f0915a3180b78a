// The `casegraph` command line against the live server of the global setup: the CLI shares the
// server's private PostgreSQL through its data directory, as an operator's would.
// No vitest import here: the global setup uses this module too.
import { execFile } from 'node:child_process';

/** The environment of `casegraph serve` and of the CLI run beside it (DATABASE_URL removed). */
export function casegraphEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CASEGRAPH_DATA_DIR: dataDir, CASEGRAPH_ENV: 'development' };
  delete env.DATABASE_URL;
  delete env.BROADCAST_URL;
  delete env.SMTP_URL; // outbound mail is recorded as SKIPPED on the test server
  return env;
}

/** `casegraph import -` of `data` (IMPORT.md): one transaction, idempotent upsert by natural keys. */
export function importMasterData(server: { dataDir: string; casegraphBin: string }, data: object): Promise<string> {
  return new Promise((ok, fail) => {
    const child = execFile(
      server.casegraphBin,
      ['import', '-'],
      { env: casegraphEnv(server.dataDir), timeout: 60_000 },
      (error, stdout, stderr) => (error ? fail(new Error(`casegraph import failed: ${stderr || error.message}`)) : ok(stdout)),
    );
    child.stdin?.end(JSON.stringify(data));
  });
}

/** `casegraph mail-import -` of one RFC 5322 message (EMAIL.md); resolves to the line it prints. */
export function mailImport(server: { dataDir: string; casegraphBin: string }, raw: string): Promise<string> {
  return new Promise((ok, fail) => {
    const child = execFile(
      server.casegraphBin,
      ['mail-import', '-'],
      { env: casegraphEnv(server.dataDir), timeout: 60_000 },
      (error, stdout, stderr) => (error ? fail(new Error(`casegraph mail-import failed: ${stderr || error.message}`)) : ok(stdout.trim())),
    );
    child.stdin?.end(raw);
  });
}
