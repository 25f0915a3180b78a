// What the transports need to know about a document, computed once per document.
import { Kind, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';

export interface PreparedDocument {
  /** The document as text, as sent on the wire (for generated documents: the registered text). */
  readonly query: string;
  /** SHA-256 (hex) of `query` for generated documents, sent instead of the text (persisted queries). */
  readonly hash: string | undefined;
  readonly operationName: string | undefined;
  readonly operation: OperationDefinitionNode['operation'];
  /** True when the operation declares `$after`: subscriptions with it can resume from a cursor. */
  readonly acceptsAfter: boolean;
}

const cache = new WeakMap<DocumentNode, PreparedDocument>();

/** Print and inspect a (generated, typed) document; throws when it holds no single operation. */
export function prepare(document: DocumentNode): PreparedDocument {
  const hit = cache.get(document);
  if (hit) return hit;
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const op = operations[0];
  if (op === undefined || operations.length !== 1) {
    throw new TypeError(`a document must hold exactly one operation, found ${operations.length}`);
  }
  // Generated documents carry their persisted form (codegen/persisted-documents.cjs).
  const meta = (document as { __meta__?: { hash?: unknown; query?: unknown } }).__meta__;
  const persisted = typeof meta?.hash === 'string' && typeof meta.query === 'string';
  const prepared: PreparedDocument = {
    query: persisted ? (meta.query as string) : print(document),
    hash: persisted ? (meta.hash as string) : undefined,
    operationName: op.name?.value,
    operation: op.operation,
    acceptsAfter: (op.variableDefinitions ?? []).some((v) => v.variable.name.value === 'after'),
  };
  cache.set(document, prepared);
  return prepared;
}

/** The value of the single root field of a result (`{ requestEvents: {...} }` -> the event). */
export function rootValue(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return undefined;
  const values = Object.values(data as Record<string, unknown>);
  return values.length === 1 ? values[0] : undefined;
}

/** The stream position of a subscription result: its root object's `cursor`, when it has one. */
export function cursorOf(data: unknown): string | undefined {
  const value = rootValue(data);
  if (value === null || typeof value !== 'object') return undefined;
  const cursor = (value as { cursor?: unknown }).cursor;
  return typeof cursor === 'string' ? cursor : undefined;
}
