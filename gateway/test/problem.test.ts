import { ValidationFailedError } from '../src/http/http-errors';
import { MAX_PROBLEM_BYTES, problemOf } from '../src/http/problem';

describe('problemOf bounds what it says', () => {
  it('lists the first 20 field errors, counts the rest, and cuts long fields and messages', () => {
    const errors = Array.from({ length: 500 }, (_, i) => ({
      field: `query[${i}].${'x'.repeat(1000)}`,
      message: 'm'.repeat(5000),
    }));
    const problem = problemOf(new ValidationFailedError(errors), 'request-id');
    const listed = problem.errors ?? [];
    expect(listed.at(-1)).toEqual({
      field: '(more)',
      message: `${500 - (listed.length - 1)} more errors are not listed`,
    });
    expect(listed.length).toBeLessThanOrEqual(21);
    for (const { field, message } of listed.slice(0, -1)) {
      expect(field.length).toBeLessThanOrEqual(200);
      expect(message.length).toBeLessThanOrEqual(300);
    }
    expect(problem.detail.length).toBeLessThanOrEqual(1000);
    expect(Buffer.byteLength(JSON.stringify(problem))).toBeLessThanOrEqual(MAX_PROBLEM_BYTES);
  });

  it('keeps a short problem whole', () => {
    const problem = problemOf(new ValidationFailedError([{ field: 'k', message: 'max 1000' }]), undefined);
    expect(problem).toMatchObject({
      status: 422,
      detail: 'k: max 1000',
      errors: [{ field: 'k', message: 'max 1000' }],
    });
  });
});
