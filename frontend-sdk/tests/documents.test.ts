// Offline checks of the committed operation documents (no server needed).
import {
  Kind,
  Lexer,
  Source,
  TokenKind,
  parse,
  print,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { describe, expect, it } from 'vitest';
import * as generated from '../src/generated/graphql.js';

// The server's request limits (server/schema.py: QueryDepthLimiter, MaxTokensLimiter).
const SERVER_MAX_DEPTH = 12;
const SERVER_MAX_TOKENS = 4000;

const documents = Object.entries(generated as Record<string, unknown>)
  .filter(([name, value]) => name.endsWith('Document') && typeof value === 'object' && value !== null)
  .map(([name, value]) => [name, value as DocumentNode] as const);

function operationOf(doc: DocumentNode): OperationDefinitionNode {
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!op) throw new Error('no operation');
  return op;
}

function fragmentsOf(doc: DocumentNode): Map<string, FragmentDefinitionNode> {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) map.set(d.name.value, d);
  return map;
}

/** Field nesting depth with fragments inlined (how the server's depth limiter counts). */
function depth(set: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>): number {
  if (!set) return 0;
  let max = 0;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) max = Math.max(max, s.selectionSet ? 1 + depth(s.selectionSet, fragments) : 0);
    else if (s.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, depth(s.selectionSet, fragments));
    else max = Math.max(max, depth(fragments.get(s.name.value)?.selectionSet, fragments));
  }
  return max;
}

function tokens(text: string): number {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

describe('operation documents', () => {
  it('are generated for portal, console and partner', () => {
    const names = documents.map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining([
      'PortalMyRequestsDocument', 'PortalCreateServiceRequestDocument', 'PortalRequestStatusDocument',
      'ConsoleTeamQueueDocument', 'ConsoleRequestDetailDocument', 'ConsoleDecideApprovalDocument',
      'ConsoleApplyPaymentDocument', 'ConsoleSlaAlertsDocument', 'ConsoleApprovalRequestsDocument',
      'PartnerRequestByNumberDocument', 'PartnerCustomerRequestsDocument', 'PartnerCreateServiceRequestDocument',
    ]));
  });

  const operations = documents.filter(([, doc]) => doc.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION));

  it.each(operations)('%s stays within the server limits', (_name, doc) => {
    const op = operationOf(doc);
    expect(depth(op.selectionSet, fragmentsOf(doc))).toBeLessThanOrEqual(SERVER_MAX_DEPTH);
    expect(tokens(print(doc))).toBeLessThan(SERVER_MAX_TOKENS);
  });

  const mutations = operations.filter(([, doc]) => operationOf(doc).operation === 'mutation');

  it.each(mutations)('%s selects userErrors { field message code }', (_name, doc) => {
    const root = operationOf(doc).selectionSet.selections[0];
    if (root?.kind !== Kind.FIELD) throw new Error('mutation root is not a field');
    const userErrors = root.selectionSet?.selections.find(
      (s) => s.kind === Kind.FIELD && s.name.value === 'userErrors',
    );
    if (userErrors?.kind !== Kind.FIELD) throw new Error('no userErrors selection');
    const fields = userErrors.selectionSet?.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '?'));
    expect(fields).toEqual(expect.arrayContaining(['field', 'message', 'code']));
  });

  const resumable = operations.filter(([, doc]) => {
    const root = operationOf(doc).selectionSet.selections[0];
    return root?.kind === Kind.FIELD && ['requestEvents', 'slaAlerts'].includes(root.name.value);
  });

  it.each(resumable)('%s can resume: declares $after and selects cursor', (_name, doc) => {
    const op = operationOf(doc);
    expect(op.variableDefinitions?.map((v) => v.variable.name.value)).toContain('after');
    expect(print(doc)).toMatch(/\bcursor\b/);
  });
});

describe('persisted documents', () => {
  const manifest = JSON.parse(
    readFileSync(new URL('../src/generated/persisted-documents.json', import.meta.url), 'utf8'),
  ) as Record<string, string>;

  it.each(documents)('%s carries its hash and registered text', (_name, doc) => {
    const meta = (doc as { __meta__?: { hash: string; query: string } }).__meta__;
    if (!meta) throw new Error('no __meta__');
    expect(createHash('sha256').update(meta.query).digest('hex')).toBe(meta.hash);
    expect(manifest[meta.hash]).toBe(meta.query);
    // The registered text is this very document, in a stable print.
    const { __meta__: _, ...plain } = doc as DocumentNode & { __meta__: unknown };
    expect(print(parse(meta.query))).toBe(print(parse(printExecutableGraphQLDocument(plain as DocumentNode))));
  });

  it('the manifest holds exactly the generated documents', () => {
    const hashes = documents.map(([, doc]) => (doc as { __meta__?: { hash: string } }).__meta__?.hash);
    expect(new Set(hashes)).toEqual(new Set(Object.keys(manifest)));
  });
});
