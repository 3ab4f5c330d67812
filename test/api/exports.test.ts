import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers.js';

/**
 * The export list of each entry point, pinned (issue 15): adding, removing or renaming a name is a
 * visible decision here, as in ml-matrix's exports test. `als` is the task-level API (at most 25
 * values); the building blocks are in `als/advanced`, the kernels in `als/kernels`, the HTTP app
 * in `als/serve`. Types are
 * pinned from the built declarations (dist/src/*.d.ts), which list them by name.
 */
const ENTRY_POINTS: Record<string, { module: string; declarations: string; values: string[]; types: string[] }> = {
  als: {
    module: 'als',
    declarations: 'dist/src/index.d.ts',
    values: [
      'AlsError',
      'closeModel',
      'describeModelDirectory',
      'evaluate',
      'explainUser',
      'exportSparkModel',
      'formatTrainConfig',
      'importSparkModel',
      'loadModel',
      'parseItemList',
      'parseTrainConfig',
      'readInteractions',
      'recommendForList',
      'recommendItems',
      'saveModel',
      'similarItems',
      'train',
      'tune',
      'updateModel',
      'updateModelDirectory',
      'writeAllRecommendations',
      'writeAllSimilar',
    ],
    types: [
      'AlsErrorCode',
      'AlsModel',
      'AppliedDefaults',
      'BestSoFar',
      'Contribution',
      'CsrMatrix',
      'DirectoryUpdate',
      'EvaluateCallbacks',
      'EvaluateOptions',
      'Evaluation',
      'ExplainedItem',
      'Explanation',
      'ImportSummary',
      'InputFormat',
      'InputSummary',
      'Interactions',
      'IterationReport',
      'ListRecommendation',
      'ListedItem',
      'LockHolder',
      'LockOptions',
      'Metrics',
      'ModelDirectory',
      'ModelFile',
      'OutputTarget',
      'ReadOptions',
      'ReadProgress',
      'ReadStats',
      'RecommendAllOptions',
      'RecommendOptions',
      'ResolvedList',
      'SaveModelOptions',
      'SavedModel',
      'ScoredItem',
      'SimilarAllOptions',
      'SimilarAllSummary',
      'SimilarOptions',
      'SimilarResult',
      'SkippedRow',
      'Solver',
      'SparkExport',
      'SparkExportOptions',
      'SparkImport',
      'SparkImportOptions',
      'TrainCallbacks',
      'TrainConfig',
      'TrainOptions',
      'TrainedBy',
      'Trial',
      'TuneCallbacks',
      'TuneMetric',
      'TuneOptions',
      'TuneResult',
      'UpdateResult',
      'UpdateSummary',
      'Weighting',
    ],
  },
  'als/advanced': {
    module: 'als/advanced',
    declarations: 'dist/src/advanced.d.ts',
    values: [
      'BINARY_SHARE',
      'DEFAULT_ALPHA',
      'DEFAULT_EVAL_K',
      'DEFAULT_LOCK_TIMEOUT_MS',
      'DEFAULT_MIN_ITEM_USERS',
      'DEFAULT_SPLIT_SEED',
      'DEFAULT_TEST_FRACTION',
      'Explainer',
      'FEW_FACTORS',
      'FEW_PAIRS_PER_USER',
      'FORMAT_NAME',
      'FORMAT_VERSION',
      'INPUT_FORMATS',
      'LAMBDA_PER_CONFIDENCE',
      'MAX_ALPHA',
      'MAX_BM25_K1',
      'MAX_CONFIDENCE',
      'MAX_LAMBDA',
      'MAX_LAMBDA_ALPHA0',
      'MAX_LAMBDA_EXPONENT',
      'MetricsAccumulator',
      'RULE_LAMBDA_RANGE',
      'SOLVERS',
      'SPLIT_FILES',
      'TUNED_OPTIONS',
      'TUNE_METRICS',
      'WEIGHTINGS',
      'alsLoss',
      'catalogueCoverage',
      'confidences',
      'cooToCsr',
      'defaultTrainOptions',
      'defaultsFor',
      'estimateTrainingMemory',
      'explainUserRow',
      'explainedRecommendations',
      'findItem',
      'findUser',
      'foldIn',
      'foldInConfidences',
      'foldInUserRow',
      'itemGramian',
      'itemNorms',
      'lockModel',
      'medianPlays',
      'playsOfRow',
      'popularityScores',
      'profileData',
      'rankSimilarToRow',
      'rankingMetrics',
      'recommendForRow',
      'recommendForVector',
      'resolveItemList',
      'resolveTrainOptions',
      'rowRegularization',
      'ruleOptions',
      'scalesRegularization',
      'scoreSplit',
      'similarToRow',
      'splitByUser',
      'summarizeMetrics',
      'topK',
      'trainFactors',
      'trainingThreads',
      'transpose',
      'userAuc',
      'userIdOfRow',
      'writeSplit',
    ],
    types: [
      'DataProfile',
      'DefaultsRule',
      'Factors',
      'FoldedUser',
      'MemoryEstimate',
      'ModelLock',
      'RegularizationOptions',
      'RowRegularization',
      'ScoreSplitOptions',
      'Split',
      'SplitOptions',
      'UserMetrics',
      'UserPlays',
      'WrittenSplit',
    ],
  },
  'als/kernels': {
    module: 'als/kernels',
    declarations: 'dist/src/kernels/index.d.ts',
    values: [
      'KERNEL_BACKENDS',
      'choleskySolve',
      'createKernels',
      'createWasmKernels',
      'createWasmKernelsSync',
      'defaultQueryKernels',
      'jsKernels',
      'kernelBuild',
      'kernelBuildAvailable',
      'kernelCopy',
    ],
    types: [
      'BlockSelection',
      'CosinePairs',
      'CosineSelection',
      'DotSelection',
      'HalfStep',
      'KernelBackend',
      'KernelBuild',
      'Kernels',
      'PairedCosineSelection',
      'WasmKernelOptions',
    ],
  },
  'als/serve': {
    module: 'als/serve',
    declarations: 'dist/src/serve/index.d.ts',
    values: ['DEFAULT_POLL_MS', 'ModelHolder', 'buildApp'],
    types: [
      'HolderStats',
      'LoadReason',
      'ModelHolderEvents',
      'ModelHolderOptions',
      'ModelLease',
      'ModelSource',
      'ReloadOutcome',
      'ServeOptions',
      'ServedModel',
      'ServingOptions',
    ],
  },
};

/** The names a declaration file exports: `export { a, type B } from`, `export type { C }`, `export declare … D`. */
function declaredNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const list of text.matchAll(/export (?:type )?\{([^}]*)\}/g))
    for (const part of list[1].split(',')) {
      const name = part
        .trim()
        .replace(/^type /, '')
        .split(' as ')
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  for (const single of text.matchAll(
    /^export (?:declare )?(?:const|function|class|type|interface|let|abstract class|async function) (\w+)/gm,
  ))
    names.add(single[1]);
  return names;
}

describe('the export list of each entry point (issue 15)', () => {
  for (const [entry, { module, declarations, values, types }] of Object.entries(ENTRY_POINTS)) {
    it(`${entry} exports exactly its pinned values`, async () => {
      const exported: Record<string, unknown> = await import(module);
      assert.deepEqual(Object.keys(exported).sort(), [...values].sort());
    });

    it(`${entry} declares exactly its pinned values and types`, () => {
      const declared = [...declaredNames(readFileSync(join(ROOT, declarations), 'utf8'))].sort();
      assert.deepEqual(declared, [...values, ...types].sort());
    });
  }

  it('als holds at most 25 values: the task-level API, AlsError and no building block', () => {
    assert.ok(ENTRY_POINTS.als.values.length <= 25, `${ENTRY_POINTS.als.values.length} values`);
  });

  it('package.json declares every entry point with its types', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>;
    };
    for (const { module, declarations } of Object.values(ENTRY_POINTS)) {
      const key = module === 'als' ? '.' : `./${module.slice('als/'.length)}`;
      assert.equal(pkg.exports[key]?.types, `./${declarations}`, key);
      assert.equal(pkg.exports[key]?.import, `./${declarations.replace(/\.d\.ts$/, '.js')}`, key);
    }
  });
});
