// `npm run codegen:check`: regenerate into a scratch directory and compare with the committed
// src/generated. Exit 1 on drift (schema or operations changed without `npm run codegen`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const committed = 'src/generated';
// Relative on purpose: codegen resolves importSchemaTypesFrom against the working directory.
const scratch = 'node_modules/.cache/casegraph-codegen-check';

rmSync(scratch, { recursive: true, force: true });
const bin = join('node_modules', '.bin', process.platform === 'win32' ? 'graphql-codegen.cmd' : 'graphql-codegen');
const run = spawnSync(bin, ['--config', 'codegen.ts'], {
  stdio: 'inherit',
  env: { ...process.env, CASEGRAPH_CODEGEN_OUT: scratch },
});
if (run.status !== 0) {
  console.error('codegen:check: code generation failed');
  process.exit(run.status ?? 1);
}

const files = new Set([...readdirSync(committed), ...readdirSync(scratch)]);
const drifted = [];
for (const name of [...files].sort()) {
  const a = join(committed, name);
  const b = join(scratch, name);
  if (!existsSync(a) || !existsSync(b) || readFileSync(a, 'utf8') !== readFileSync(b, 'utf8')) {
    drifted.push(name);
    spawnSync('diff', ['-u', a, b], { stdio: 'inherit' });
  }
}
rmSync(scratch, { recursive: true, force: true });
if (drifted.length > 0) {
  console.error(`codegen:check: ${drifted.join(', ')} drifted from the schema/operations: run \`npm run codegen\` and commit`);
  process.exit(1);
}
console.log('codegen:check: src/generated is up to date');
