export {
  HttpEndpoint,
  httpEndpoint,
  httpServer,
  type Next,
} from './inbound/endpoint.js';
export { openApiDocument } from './inbound/openapi.js';
export type { BearerToken, HttpEndpointOptions } from './inbound/options.js';
export { HttpAdapter, http, httpAdapter } from './outbound/adapter.js';
export { HttpStatusError, isRetryableStatus } from './outbound/errors.js';
export type { HttpAdapterOptions } from './outbound/options.js';
export type { BodyMapping, HttpMethod, HttpRoute } from './outbound/routes.js';
export { isPrivateAddress } from './safety.js';
export {
  signatureHeaders,
  WEBHOOK_ID,
  WEBHOOK_SIGNATURE,
  WEBHOOK_TIMESTAMP,
} from './signature.js';
