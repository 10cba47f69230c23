/** A route of the API: its template (`/v1/items/{id}`) and the methods it takes. */
export interface RouteEntry {
  /** In Express's notation (`/v1/items/:id`), as the labels of routed requests are. */
  readonly template: string;
  /** Upper case; HEAD wherever GET is, as Express answers it. */
  readonly methods: readonly string[];
}

/**
 * The API's routes, matched by path: what a request was aiming at even when no handler took it (refused
 * before routing with 401 or 429, or a method the path does not take). Its templates are the metric and
 * log label of such requests, a bounded set like Express's own route paths.
 */
export class RouteTable {
  private readonly routes: readonly (RouteEntry & { readonly pattern: RegExp })[];

  /** `paths`: template (`/v1/items/{id}`) → methods, e.g. the `paths` of the OpenAPI document. */
  constructor(paths: Readonly<Record<string, readonly string[]>>) {
    this.routes = Object.entries(paths).map(([template, methods]) => {
      const upper = methods.map((method) => method.toUpperCase());
      if (upper.includes('GET') && !upper.includes('HEAD')) upper.push('HEAD');
      const segments = template
        .split('/')
        .map((segment) =>
          /^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        );
      return {
        template: template.replace(/\{([^}]+)\}/g, ':$1'),
        methods: upper,
        pattern: new RegExp(`^${segments.join('/')}/?$`),
      };
    });
  }

  /** The route whose template matches `path`, or undefined. */
  match(path: string): RouteEntry | undefined {
    return this.routes.find((route) => route.pattern.test(path));
  }
}
