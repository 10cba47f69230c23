import { checkGeneratedApi } from '../scripts/generate-api';

// tsoa builds a TypeScript program of the controllers and everything they import: slow on two cores.
jest.setTimeout(240_000);

describe('generated tsoa routes and OpenAPI document', () => {
  it('match a fresh generation from the controllers (run `pnpm --filter @clip-search/gateway generate`)', async () => {
    expect(await checkGeneratedApi()).toEqual([]);
  });
});
