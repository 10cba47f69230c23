import { loadConfig } from '../src/config';
import { checkTritonConfig, tritonConfig } from '@clip-search/embedder-triton';
import { ConfigError } from '@clip-search/contracts';

function problemsOf(run: () => void): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('Triton settings have one default each', () => {
  test("a config built in code gets the config table's defaults", () => {
    const table = loadConfig({ EMBEDDER: 'triton', TRITON_URL: 'triton:8001' }).inference;
    if (table.kind !== 'triton') throw new Error('expected Triton settings');
    const built = tritonConfig({ url: 'triton:8001' });
    expect({
      visionModel: built.visionModel,
      textModel: built.textModel,
      modelVersion: built.modelVersion,
      deadlineMs: built.inferDeadlineMs,
      connectTimeoutMs: built.connectTimeoutMs,
    }).toEqual({
      visionModel: table.visionModel,
      textModel: table.textModel,
      modelVersion: table.modelVersion,
      deadlineMs: table.timeoutMs,
      connectTimeoutMs: table.connectTimeoutMs,
    });
  });

  test('a bad model version from the environment is refused at start, naming the variable', () => {
    const problems = problemsOf(() =>
      loadConfig({ EMBEDDER: 'triton', TRITON_URL: 'triton:8001', TRITON_MODEL_VERSION: 'latest' }),
    );
    expect(problems).toEqual([expect.stringMatching(/^TRITON_MODEL_VERSION="latest": /)]);
  });

  test("the adapter's own checks name the value, not an environment variable", () => {
    const problems = problemsOf(() => {
      checkTritonConfig(tritonConfig({ url: 'grpc://', visionModel: '', textModel: '', modelVersion: 'v2' }));
    });
    expect(problems).toHaveLength(4);
    for (const problem of problems) expect(problem).not.toMatch(/TRITON_/);
    expect(problems).toEqual([
      expect.stringMatching(/^url: .*"grpc:\/\/"/),
      expect.stringMatching(/^visionModel: /),
      expect.stringMatching(/^textModel: /),
      expect.stringMatching(/^modelVersion: .*"v2"/),
    ]);
  });
});
