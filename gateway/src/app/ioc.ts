import type { IocContainer, IocContainerFactory } from '@tsoa/runtime';
import type { Request } from 'express';
import type { ControllerFactory } from './controller-factory';

/** Where `createApp` leaves the controller factory of its app (`app.locals`). */
export const CONTROLLERS_LOCAL = 'clipSearchControllers';

/**
 * tsoa's IoC hook (tsoa.json `iocModule`): resolves controllers from the app that received the request,
 * so that several apps — each with its own container, as in tests — live side by side in one process.
 */
export const iocContainer: IocContainerFactory = (request: unknown): IocContainer => {
  const factory = (request as Request).app.locals[CONTROLLERS_LOCAL] as ControllerFactory | undefined;
  if (factory === undefined) throw new Error('The Express app was not built by createApp');
  // tsoa types `get` for every kind of service identifier; ours are the controller classes.
  return { get: (controller: unknown) => factory(controller) } as IocContainer;
};
