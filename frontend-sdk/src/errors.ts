// Errors the SDK throws, and the userErrors helpers for mutation payloads.
//
// The contract splits failures in two (schema.graphql header, ACCESS.md):
//   - top-level GraphQL `errors` / HTTP 401 / WebSocket close 4403: the request itself was
//     refused (authentication, authorization, malformed input) -> thrown as CasegraphError;
//   - `userErrors` in a mutation payload: a business rule said no (invalid transition,
//     version conflict...) -> returned as data; `assertNoUserErrors` turns them into a throw.
import type { GraphQLFormattedError } from 'graphql';
import type { UserErrorCode } from './generated/schema.js';

/** Codes the server puts in `extensions.code` (ACCESS.md), plus the SDK's own transport codes. */
export type CasegraphErrorCode =
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  /** A GraphQL error without an `extensions.code` (e.g. a document the schema does not validate). */
  | 'GRAPHQL_ERROR'
  /** The server answered with a non-GraphQL HTTP error (5xx from a proxy, ...). */
  | 'HTTP_ERROR'
  /** fetch or the WebSocket failed before an answer arrived. */
  | 'NETWORK_ERROR'
  /** The answer was not a GraphQL response. */
  | 'BAD_RESPONSE'
  /** A subscription's onEvent handler threw (reported to onError, the stream goes on). */
  | 'HANDLER_ERROR'
  /** The server runs only registered documents for this caller, and this one is not (LIMITS.md). */
  | 'PERSISTED_QUERY_NOT_FOUND'
  /** The operation costs more than the server's QUERY_COST_LIMIT (`extensions.cost`). */
  | 'QUERY_TOO_COMPLEX'
  /** The caller's budget of cost points for this minute is spent; retry after `Retry-After`. */
  | 'RATE_LIMITED';

export interface CasegraphErrorDetails {
  /** HTTP status, for errors that came over HTTP. */
  status?: number;
  /** WebSocket close code, for subscriptions (4403: token missing, bad or expired). */
  closeCode?: number;
  /** Every GraphQL error of the response, as the server sent them. */
  errors?: readonly GraphQLFormattedError[];
  /** Partial `data` that came with the errors, if any. */
  data?: unknown;
  cause?: unknown;
}

/** A request the server refused, or that never reached it. */
export class CasegraphError extends Error {
  override readonly name = 'CasegraphError';
  /** `extensions.code` of the first GraphQL error, or one of the SDK's transport codes. */
  readonly code: CasegraphErrorCode | (string & {});
  readonly status: number | undefined;
  readonly closeCode: number | undefined;
  readonly errors: readonly GraphQLFormattedError[];
  readonly data: unknown;

  constructor(code: CasegraphErrorCode | (string & {}), message: string, details: CasegraphErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.closeCode = details.closeCode;
    this.errors = details.errors ?? [];
    this.data = details.data;
  }

  /** Build from a response's top-level `errors` (non-empty). */
  static fromGraphQLErrors(
    errors: readonly GraphQLFormattedError[],
    details: Omit<CasegraphErrorDetails, 'errors'> = {},
  ): CasegraphError {
    const first = errors[0];
    const raw = first?.extensions?.['code'];
    const code = typeof raw === 'string' ? raw : details.status === 401 ? 'UNAUTHENTICATED' : 'GRAPHQL_ERROR';
    const message = errors.map((e) => e.message).join('; ') || 'GraphQL error';
    return new CasegraphError(code, message, { ...details, errors });
  }
}

/** The shape every mutation payload's `userErrors` has (`userErrors { field message code }`). */
export interface UserErrorLike {
  readonly field: readonly string[] | null;
  readonly message: string;
  readonly code: UserErrorCode;
}

/** Thrown by `assertNoUserErrors` when a business rule refused a mutation. */
export class UserErrorsError extends Error {
  override readonly name = 'UserErrorsError';
  readonly userErrors: readonly UserErrorLike[];
  /** Code of the first user error (the contract reports the most important rule first). */
  readonly code: UserErrorCode;

  constructor(userErrors: readonly UserErrorLike[]) {
    const first = userErrors[0];
    if (first === undefined) throw new TypeError('UserErrorsError needs at least one user error');
    super(userErrors.map((e) => `${e.code}: ${e.message}`).join('; '));
    this.userErrors = userErrors;
    this.code = first.code;
  }

  /** True when any of the user errors has this code. */
  has(code: UserErrorCode): boolean {
    return this.userErrors.some((e) => e.code === code);
  }
}

/**
 * Return the payload unchanged when its `userErrors` is empty, else throw a UserErrorsError.
 *
 *   const { serviceRequest } = assertNoUserErrors(await client.mutate(ConsoleStartWorkDocument, { input }));
 */
export function assertNoUserErrors<P extends { readonly userErrors: readonly UserErrorLike[] }>(payload: P): P {
  if (payload.userErrors.length > 0) throw new UserErrorsError(payload.userErrors);
  return payload;
}
