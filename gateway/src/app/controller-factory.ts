import type { Controller } from '@tsoa/runtime';
import { IngestController } from '../controllers/ingest-controller';
import { ItemsController } from '../controllers/items-controller';
import { SearchController } from '../controllers/search-controller';
import { StatusController } from '../controllers/status-controller';
import type { GatewayServices } from './container';

/**
 * Builds a controller for one request. tsoa controllers hold the status and headers of the response
 * being built, so an instance is never shared between two requests.
 */
export type ControllerFactory = (controllerClass: unknown) => Controller;

export function controllerFactory(services: GatewayServices): ControllerFactory {
  const factories = new Map<unknown, () => Controller>([
    [SearchController, () => new SearchController(services.search)],
    [ItemsController, () => new ItemsController(services.items, services.search, services.thumbnails)],
    [IngestController, () => new IngestController(services.ingest)],
    [StatusController, () => new StatusController(services.status)],
  ]);
  return (controllerClass) => {
    const make = factories.get(controllerClass);
    if (make === undefined) throw new Error(`No factory for controller ${String(controllerClass)}`);
    return make();
  };
}
