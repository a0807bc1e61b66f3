// The API's JSON shapes as the page reads them, for the type checker only (`npm run typecheck`): the browser
// never loads this file. Execution shapes are the server's own types; the others mirror the src/ file named.

/** @import { ExecutionResult, ExecutionStatus, Language } from "../../src/executions/types.ts" */

/**
 * A run as history lists it (src/executions/history.ts HistoryItem): the result plus its code.
 * @typedef {ExecutionResult & {code: string, error: string | null}} HistoryItem
 */

/** @typedef {{items: HistoryItem[], nextCursor: string | null}} HistoryPage `GET /api/v1/executions` */

/**
 * One language's counters (src/executions/metrics.ts LanguageStats).
 * @typedef {{total: number, succeeded: number, failed: number, timedOut: number, cancelled: number,
 *   errors: number, averageDuration: number}} LanguageStats
 */

/**
 * The caller's counters (src/executions/metrics.ts UserStats).
 * @typedef {{totalExecutions: number, successfulExecutions: number, failedExecutions: number,
 *   successRate: number, averageDuration: number, byLanguage: Partial<Record<Language, LanguageStats>>,
 *   recentErrors: {executionId: string, language: Language, status: ExecutionStatus, message: string, at: string}[]}} UserStats
 */

/**
 * Volume usage (src/volume/usage.ts VolumeInfo).
 * @typedef {{usedBytes: number, quotaBytes: number, usagePercent: number, fileCount: number, reservedBytes: number}} VolumeInfo
 */

/** @typedef {{user: UserStats, volume: VolumeInfo, sandboxes: {active: number}}} Stats `GET /api/v1/stats` */

/**
 * One volume file as listed (src/routes/volume.ts).
 * @typedef {{name: string, size: number, etag: string, modifiedAt: string, contentType: string | null}} VolumeFile
 */

/** @typedef {{items: VolumeFile[], nextCursor: string | null}} VolumeFilePage `GET /api/v1/volume/files` */

/**
 * An SSE `start` event (src/executions/types.ts ExecutionEvent).
 * @typedef {{id: string, sandboxId: string, conversationId: string, language: Language}} StartEvent
 */

/**
 * An SSE `error` event: `{error: {code, message, retryAfterSeconds?}}` (src/error-codes.ts ApiErrorData),
 * where newer servers add the HTTP `status` and the `requestId` (and may send those fields at the top level
 * rather than under `error`). The code is any string: a newer server may send one this page does not know.
 * @typedef {{code?: string, message?: string, retryAfterSeconds?: number, status?: number, requestId?: string}} StreamError
 * @typedef {StreamError & {error?: StreamError}} StreamErrorEvent
 */

/**
 * The events of a run, by SSE event name.
 * @typedef {{queued: {position: number}, start: StartEvent, stdout: {data: string}, stderr: {data: string},
 *   end: ExecutionResult, error: StreamErrorEvent}} ExecutionEvents
 */

/**
 * One SSE event, narrowed by its name.
 * @typedef {{[K in keyof ExecutionEvents]: {event: K, data: ExecutionEvents[K]}}[keyof ExecutionEvents]} ExecutionEvent
 */

export {};
