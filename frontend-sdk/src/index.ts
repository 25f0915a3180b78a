// @casegraph/sdk: typed client for the casegraph GraphQL API.
export { createCasegraphClient, toWebSocketUrl } from './client.js';
export type { CasegraphClient, CasegraphClientOptions, VariablesArg } from './client.js';
export { clientCredentials } from './auth.js';
export type { ClientCredentialsOptions } from './auth.js';
export { CasegraphError, UserErrorsError, assertNoUserErrors } from './errors.js';
export type { CasegraphErrorCode, CasegraphErrorDetails, UserErrorLike } from './errors.js';
export type { FetchLike, PersistedDocumentsMode, RequestOptions, TokenProvider } from './http.js';
export { CLOSE_FORBIDDEN, defaultRetryWait } from './subscriptions.js';
export type { CasegraphSubscription, SubscriptionHandlers } from './subscriptions.js';
// Every schema type, input and enum (enums as `const` objects with string-literal types).
export * from './generated/schema.js';
// Every operation's result/variables types and its typed document (`...Document`).
export * from './generated/graphql.js';
