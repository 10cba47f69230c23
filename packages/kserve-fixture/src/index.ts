// The public surface of @clip-search/kserve-fixture.
export * from './kserve-fixture-server';
export * from './pytriton-server';
