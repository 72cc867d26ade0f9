// ai-spend-tracker client: record usage of paid AI APIs from Workers, Pages Functions,
// Node 20 and browsers. No runtime dependencies.
export { UsageClient, UsageApiError, BudgetExceededError, TrackerUnavailableError, newEventId, compactEvent } from './client.js';
export {
  fromOpenAIChat,
  fromOpenAIResponses,
  fromOpenAI,
  fromOpenAITTS,
  fromAnthropic,
  fromGemini,
  fromElevenLabs,
  genericEvent,
  headerValue,
} from './helpers.js';
export type * from './types.js';
