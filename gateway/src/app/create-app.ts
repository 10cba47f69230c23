import express from 'express';
import type { Express, RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import openApiSpec from '../generated/openapi.json';
import { RegisterRoutes } from '../generated/routes';
import { jsonBody, uploads } from '../http/body-parsers';
import { errorMiddleware, routeNotFound } from '../http/error-middleware';
import { requestContext } from '../http/request-context';
import type { GatewayContainer } from './container';
import { controllerFactory } from './controller-factory';
import { CONTROLLERS_LOCAL } from './ioc';

/** The OpenAPI document the API is generated from (gateway/src/generated/openapi.json). */
export const OPENAPI_SPEC: Readonly<Record<string, unknown>> = openApiSpec;

/**
 * The gateway's Express app over a container. Order matters: request context first (so every response,
 * errors included, has a request id, an access-log line and a metric), then the routes, then the 404,
 * then the one error middleware.
 */
export function createApp(container: GatewayContainer): Express {
  const { config, logger, metrics, backends } = container;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // images carry their own; JSON answers are not cached
  app.locals[CONTROLLERS_LOCAL] = controllerFactory(container.services);

  app.use(requestContext(logger, metrics));

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

  app.use(jsonBody(config.server.maxBodyBytes));
  RegisterRoutes(app, { multer: uploads({ maxFileBytes: config.server.maxUploadBytes }) });

  app.use(routeNotFound);
  app.use(errorMiddleware(logger));
  return app;
}
