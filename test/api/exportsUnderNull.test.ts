import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkModel } from '../../src/validate.js';
import { AlsError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/**
 * Issue 9 class 11: every exported function validates its arguments and throws AlsError with a
 * code. Given null or {} where its first argument goes (then 'x' and {}), an export either
 * returns or throws an AlsError; before, some 55 of these calls died with a TypeError
 * ("Cannot read properties of null (reading 'userIds')", "names.map is not a function", …).
 */
describe('issue 9 class 11: every export under null and {}', () => {
  it('every function of every entry point (als, als/advanced, als/kernels) given null or {} first returns or throws AlsError, never another error (issue 9 class 11)', async () => {
    const als: Record<string, unknown> = {
      ...(await import('../../src/index.js')),
      ...(await import('../../src/advanced.js')),
      ...(await import('../../src/kernels/index.js')),
    };
    // run where a call that does write something (a file named x) cannot touch the work tree
    const cwd = process.cwd();
    const dir = tempDir('als-exports-null-');
    process.chdir(dir);
    const failures: string[] = [];
    let calls = 0;
    try {
      for (const [name, fn] of Object.entries(als)) {
        // classes (AlsError, Explainer, MetricsAccumulator) are constructed, not called; nothing else is skipped
        if (typeof fn !== 'function' || /^[A-Z]/.test(name)) continue;
        for (const arg of [null, {}]) {
          calls++;
          try {
            const result = (fn as (...args: unknown[]) => unknown)(arg, 'x', {});
            if (result instanceof Promise) await result;
          } catch (error) {
            if (!(error instanceof AlsError))
              failures.push(
                `${name}(${JSON.stringify(arg)}, 'x', {}): ${(error as Error)?.constructor?.name} ${(error as Error)?.message}`,
              );
            else
              assert.ok(typeof error.code === 'string' && error.code.length > 0, `${name}: an AlsError without a code`);
          }
        }
      }
    } finally {
      process.chdir(cwd);
    }
    assert.ok(calls >= 100, `only ${calls} calls: the exports were not all found`);
    assert.deepEqual(failures, []);
    // every refusal came before anything was written
    assert.deepEqual(readdirSync(dir), []);
  });

  it("checkModel looks for a model's parts with `in` and never reads them (a loaded model reads its files on first use) (issue 9 class 11)", () => {
    const parts = ['userFactors', 'itemFactors', 'userIds', 'itemNames', 'userItems', 'itemUserCounts', 'options'];
    const model: Record<string, unknown> = { users: 2, items: 3, factors: 4 };
    for (const part of parts) {
      Object.defineProperty(model, part, {
        enumerable: true,
        get() {
          throw new Error(`${part} was read`);
        },
      });
    }
    checkModel('model', model);
    checkModel('model', { userItems: null }, ['userItems']);
    const refused = (value: unknown, pattern: RegExp, keys?: Parameters<typeof checkModel>[2]) =>
      assert.throws(
        () => checkModel('model', value, keys),
        (e: unknown) => e instanceof AlsError && e.code === 'usage' && pattern.test(e.message),
      );
    refused(null, /^model must be an als model \(from train or loadModel\), not null$/);
    refused([], /, not an array$/);
    refused({ users: 2, items: 3, factors: 4 }, /, not an object without userFactors$/);
    refused({ users: 2, items: 3, factors: 0 }, /, not an object whose factors is 0$/);
    refused({ users: -1, items: 3, factors: 4 }, /, not an object whose users is -1$/);
    refused({ users: 2, items: 1.5, factors: 4 }, /, not an object whose items is 1\.5$/);
    refused({ users: 2, items: 3, factors: 2000 }, /, not an object whose factors is 2000$/);
    // a Pick<AlsModel, …> needs only its keys: users, items and factors only when picked
    refused({ itemFactors: null }, /, not an object without items$/, ['itemFactors', 'items', 'factors']);
  });
});
