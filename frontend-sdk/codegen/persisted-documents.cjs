// Persisted documents (LIMITS.md), as graphql-codegen's client preset makes them: each operation
// with the fragments it uses, printed in @graphql-tools/documents' stable form and named by the
// SHA-256 (hex) of that text, the hash of Apollo's persisted-query protocol.
//
// - `persistedDocument(document)`: { hash, query } of one executable document; codegen.ts hands it
//   to typed-document-node (`unstable_onExecutableDocumentNode`, the hook the client preset uses),
//   so every generated document carries `__meta__: { hash, query }`.
// - `plugin`: the manifest (hash -> text) that `casegraph documents register` loads.
'use strict';
const { createHash } = require('node:crypto');
const { printExecutableGraphQLDocument } = require('@graphql-tools/documents');
const { Kind, visit } = require('graphql');

function persistedDocument(document) {
  const query = printExecutableGraphQLDocument(document);
  return { hash: createHash('sha256').update(query).digest('hex'), query };
}

function plugin(_schema, documents) {
  const fragments = new Map();
  const operations = [];
  for (const file of documents) {
    for (const definition of file.document?.definitions ?? []) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      else if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
    }
  }
  const manifest = {};
  for (const operation of operations) {
    const used = new Map();
    const pending = [operation];
    while (pending.length > 0) {
      visit(pending.pop(), {
        FragmentSpread(spread) {
          const fragment = fragments.get(spread.name.value);
          if (fragment && !used.has(spread.name.value)) {
            used.set(spread.name.value, fragment);
            pending.push(fragment);
          }
        },
      });
    }
    const { hash, query } = persistedDocument({ kind: Kind.DOCUMENT, definitions: [operation, ...used.values()] });
    manifest[hash] = query;
  }
  const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

module.exports = { plugin, persistedDocument };
