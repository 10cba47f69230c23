import express from 'express';
import type { Express, RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import { jsonBodyRules } from '../api/body-limits';
import openApiSpec from '../generated/openapi.json';
import { RegisterRoutes } from '../generated/routes';
import { authenticate } from '../http/authentication';
import { jsonBody, uploads } from '../http/body-parsers';
import { errorMiddleware, routeNotFound } from '../http/error-middleware';
import { rateLimit } from '../http/rate-limit';
import { requestContext } from '../http/request-context';
import { RouteTable } from '../http/route-table';
import type { GatewayContainer } from './container';
import { controllerFactory } from './controller-factory';
import { CONTROLLERS_LOCAL } from './ioc';

/** The OpenAPI document the API is generated from (gateway/src/generated/openapi.json). */
export const OPENAPI_SPEC: Readonly<Record<string, unknown>> = openApiSpec;

/** Routes served outside the OpenAPI document, with their methods. */
const EXTRA_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/openapi.json': ['get'],
  '/metrics': ['get'],
};

/** Every route's methods, from the OpenAPI document (`/v1/items/{id}` → get, delete) and the extras. */
function routeTable(spec: Readonly<Record<string, unknown>>): RouteTable {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
  const methods: Record<string, readonly string[]> = { ...EXTRA_ROUTES };
  for (const [template, operations] of Object.entries(paths))
    methods[template] = Object.keys(operations).filter((key) => HTTP_METHODS.has(key));
  return new RouteTable(methods);
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * The gateway's Express app over a container. Order matters: request context first (so every response,
 * errors included, has a request id, an access-log line and a metric), then authentication and rate
 * limits, then the routes, then the 404, then the one error middleware.
 */
export function createApp(container: GatewayContainer): Express {
  const { config, logger, metrics, backends } = container;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // images carry their own; JSON answers are not cached
  // Which X-Forwarded-For hops to believe for req.ip (the client address of rate limits): TRUST_PROXY.
  app.set('trust proxy', config.server.trustProxy);
  app.locals[CONTROLLERS_LOCAL] = controllerFactory(container.services);

  const routes = routeTable(OPENAPI_SPEC);
  app.use(requestContext(logger, metrics, routes));
  // Who is calling and whether they may, before any body is read: an unauthenticated or rate-limited
  // upload is refused on its headers.
  app.use(authenticate(config.auth));
  app.use(rateLimit(config.rateLimits));

  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI_SPEC);
  });
  const docsLabel: RequestHandler = (_req, res, next) => {
    res.locals.routeLabel = '/docs';
    next();
  };
  app.use(
    '/docs',
    docsLabel,
    swaggerUi.serve,
    swaggerUi.setup(OPENAPI_SPEC, { customSiteTitle: 'clip-search API' }),
  );
  app.get('/metrics', async (_req, res) => {
    // The item count is read at scrape time: cheap, and never stale.
    const store = backends.current()?.store;
    if (store !== undefined) metrics.items.set(await store.count());
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use(jsonBody(jsonBodyRules(config.server.maxBodyBytes)));
  RegisterRoutes(app, { multer: uploads({ maxFileBytes: config.server.maxUploadBytes }) });

  app.use(routeNotFound(routes));
  app.use(errorMiddleware(logger));
  return app;
}
